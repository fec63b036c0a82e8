"""Hot ranking, in the spirit of Reddit's `hot` (and Lemmy's, without its periodic decay job).

    engagement = likes + 2 * comments + 3 * shares
    hot_score  = log10(max(engagement, 1)) + (created_at - HOT_EPOCH) / 45000 s

The first term grows with the logarithm of engagement, so the first 10 interactions weigh as
much as the next 90. The second term is absolute time: every 12.5 hours (45000 s) a newer post
starts one unit (= 10x engagement) higher. Older posts therefore sink relative to new ones
without ever being rewritten, so no decay job is needed; the score changes only when the
post's engagement changes, and the services (posts.batch) write it with the counters, in
the same transaction, computed here from the counters read under the post's row lock.
Feeds sort by the indexed `hot_score` column.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

HOT_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
HOT_SECONDS_PER_DECADE = 45000.0
LIKE_WEIGHT, COMMENT_WEIGHT, SHARE_WEIGHT = 1, 2, 3


def engagement(*, like_count: int, comment_count: int, share_count: int) -> int:
    return LIKE_WEIGHT * like_count + COMMENT_WEIGHT * comment_count + SHARE_WEIGHT * share_count


def age_term(created_at: datetime) -> float:
    return (created_at - HOT_EPOCH).total_seconds() / HOT_SECONDS_PER_DECADE


def hot_score(*, engagement: int, created_at: datetime) -> float:
    return math.log10(max(engagement, 1)) + age_term(created_at)
