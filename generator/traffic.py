"""The generator's model of a living community site, as a deterministic plan of actions.

Nothing here touches the database: `plan_history` turns a seed and a few sizes into people,
communities, posts and a time-ordered list of actions, which an executor then replays through
the service layer or the REST API. The same seed always gives the same plan.

What makes it look like a real site:
- community sizes are Zipf-like: the k-th most popular topic draws members with weight 1/k^s;
- a post's appeal is Pareto-distributed, so engagement is heavy-tailed as well;
- activity follows a daily rhythm (quiet at night UTC, busiest in the late afternoon);
- a few posts go viral: their engagement comes from a self-exciting (Hawkes) process, in which
  every action raises the chance of the next one for a while. Those posts and their bursts are
  the ground truth that trend predictions can be checked against.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
import unicodedata
from dataclasses import dataclass, field

from faker import Faker

from accounts.usernames import username_skeleton
from generator.topics import QUOTES, TOPICS

DAY = 86_400.0
ZIPF_EXPONENT = 1.1
PARETO_SHAPE = 1.6
KIND_WEIGHTS = {"quote": 0.6, "image": 0.3, "video": 0.1}
ENGAGEMENT_MIX = {"view": 0.55, "like": 0.27, "comment": 0.1, "share": 0.04, "unlike": 0.04}
# What random.choices(verbs, weights) computes on every call; the same draws, done once.
ENGAGEMENT_VERBS = list(ENGAGEMENT_MIX)
ENGAGEMENT_CUM_WEIGHTS = list(itertools.accumulate(ENGAGEMENT_MIX.values()))
VERB_LAST = len(ENGAGEMENT_VERBS) - 1
HAWKES_BRANCHING = 0.85  # mean follow-on actions each action triggers (< 1: bursts die out)
HAWKES_DECAY_S = 300.0  # how long one action keeps exciting the next (exp. kernel mean)


@dataclass(frozen=True)
class SeedSizes:
    users: int
    communities: int
    posts: int
    actions: int
    days: float
    viral_posts: int = 3

    def check(self) -> None:
        if self.users < 2:
            raise ValueError("--users must be at least 2")
        if self.communities < 1:
            raise ValueError("--communities must be at least 1")
        if self.communities > self.users:
            raise ValueError("--communities cannot exceed --users (each has a creator)")
        if min(self.posts, self.actions, self.viral_posts) < 0 or self.days < 0:
            raise ValueError("--posts, --actions, --viral-posts and --days cannot be negative")
        if self.viral_posts > self.posts:
            raise ValueError("--viral-posts cannot exceed --posts")


@dataclass(frozen=True)
class PlannedUser:
    username: str
    email: str
    first_name: str
    last_name: str
    bio: str


@dataclass(frozen=True)
class PlannedCommunity:
    name: str
    slug: str
    description: str
    topic_index: int
    creator: int


@dataclass(frozen=True)
class Action:
    """One thing a person does. `at` is seconds after the start of the history; `post` and
    `comment` are indexes into the plan's posts and comments, resolved to ids on replay."""

    at: float
    verb: str
    user: int
    community: int
    post: int | None = None
    kind: str | None = None
    text: str = ""
    attribution: str = ""
    parent_comment: int | None = None
    comment: int | None = None
    target_community: int | None = None


@dataclass(frozen=True)
class Burst:
    post: int
    start: float
    end: float
    actions: int


@dataclass
class Plan:
    sizes: SeedSizes
    seed: int
    users: list[PlannedUser]
    communities: list[PlannedCommunity]
    actions: list[Action]
    bursts: list[Burst]
    post_count: int = 0
    comment_count: int = 0

    def count(self, verb: str) -> int:
        return sum(1 for action in self.actions if action.verb == verb)


def daily_rhythm(at_s: float) -> float:
    """Relative activity at a time of day (UTC), between 0.25 at 04:00 and 1.0 at 16:00."""
    hour = (at_s % DAY) / 3600.0
    return 0.25 + 0.75 * (0.5 - 0.5 * math.cos(2 * math.pi * (hour - 4.0) / 24.0))


def zipf_weights(n: int, exponent: float = ZIPF_EXPONENT) -> list[float]:
    return [1.0 / (rank**exponent) for rank in range(1, n + 1)]


def hawkes_times(
    rng: random.Random, *, start: float, base_rate: float, duration: float
) -> list[float]:
    """Event times of a Hawkes process with an exponential kernel, by Ogata's thinning.

    Intensity: base_rate + sum over past events of BRANCHING/DECAY * exp(-(t - t_i)/DECAY)."""
    times: list[float] = []
    excitation = 0.0
    t = start
    end = start + duration
    jump = HAWKES_BRANCHING / HAWKES_DECAY_S
    while True:
        upper = base_rate + excitation
        wait = rng.expovariate(upper)
        excitation *= math.exp(-wait / HAWKES_DECAY_S)
        t += wait
        if t >= end:
            return times
        if rng.random() * upper <= base_rate + excitation:
            times.append(t)
            excitation += jump


@dataclass
class _State:
    """What the planner must remember so every action it plans is valid when replayed."""

    members: list[list[int]]
    memberships: list[set[int]]
    post_community: list[int] = field(default_factory=list)
    post_created: list[float] = field(default_factory=list)
    likes: set[tuple[int, int]] = field(default_factory=set)
    post_comments: dict[int, list[int]] = field(default_factory=dict)
    comment_count: int = 0


class Planner:
    """Builds a Plan. `taken_usernames` and `taken_names` (community names) already in use are
    avoided, so a second run on the same database gets fresh people and communities; on an
    empty database the same seed always gives the same plan."""

    def __init__(
        self,
        sizes: SeedSizes,
        seed: int,
        *,
        taken_usernames: frozenset[str] = frozenset(),
        taken_names: frozenset[str] = frozenset(),
    ) -> None:
        sizes.check()
        # By look-alike skeleton: registration refuses a name that looks like a taken one.
        self.taken_usernames = {username_skeleton(name) for name in taken_usernames}
        self.taken_names = {name.lower() for name in taken_names}
        self.sizes = sizes
        self.seed = seed
        self.rng = random.Random(seed)
        self.fake = Faker()
        self.fake.seed_instance(seed)
        self.span = max(sizes.days * DAY, 3600.0)

    def plan(self) -> Plan:
        users = self._users()
        communities = self._communities()
        state = _State(members=[[] for _ in communities], memberships=[set() for _ in users])
        actions = self._memberships(communities, state)
        actions += self._posts(communities, state)
        bursts: list[Burst] = []
        actions += self._engagement(state, bursts)
        actions.sort(key=lambda action: action.at)
        plan = Plan(self.sizes, self.seed, users, communities, actions, bursts)
        plan.post_count = len(state.post_community)
        plan.comment_count = state.comment_count
        return plan

    # -- people and communities ---------------------------------------------------------
    def _users(self) -> list[PlannedUser]:
        users, taken = [], set(self.taken_usernames)
        for _ in range(self.sizes.users):
            first, last = self.fake.first_name(), self.fake.last_name()
            base = self.rng.choice(
                [f"{first}{last}", f"{first}_{last[0]}", f"{first[0]}{last}", self.fake.user_name()]
            ).lower()
            base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
            base = "".join(ch for ch in base if ch.isalnum() or ch == "_")[:24] or "user"
            username = base
            for n in itertools.count(2):
                if username_skeleton(username) not in taken:
                    break
                username = f"{base}{n}"
            taken.add(username_skeleton(username))
            bio = self.fake.sentence(nb_words=self.rng.randint(6, 14))
            users.append(PlannedUser(username, f"{username}@example.org", first, last, bio))
        return users

    def _communities(self) -> list[PlannedCommunity]:
        communities: list[PlannedCommunity] = []
        taken = set(self.taken_names)
        for index in range(self.sizes.communities):
            topic_index = index % len(TOPICS)
            topic = TOPICS[topic_index]
            round_ = index // len(TOPICS)
            name = topic.name if round_ == 0 else f"{topic.name} {self.fake.city()}"
            while name.lower() in taken:
                name = f"{topic.name} {self.fake.city()}"
            taken.add(name.lower())
            slug = _slugify(name)
            creator = self.rng.randrange(self.sizes.users)
            community = PlannedCommunity(name, slug, topic.description, topic_index, creator)
            communities.append(community)
        return communities

    def _memberships(self, communities: list[PlannedCommunity], state: _State) -> list[Action]:
        """Creators found their communities early; then each person joins a few communities,
        drawn by Zipf weights, so a handful of communities hold most members."""
        actions = []
        found_window = self.span * 0.05
        for index, community in enumerate(communities):
            at = found_window * index / max(len(communities), 1)
            actions.append(Action(at, "create_community", community.creator, index))
            state.members[index].append(community.creator)
            state.memberships[community.creator].add(index)
        weights = zipf_weights(len(communities))
        cumulative = list(itertools.accumulate(weights))
        join_window = self.span * 0.15
        for user in range(self.sizes.users):
            wanted = min(len(communities), 1 + int(self.rng.expovariate(1 / 2.5)))
            for _ in range(wanted * 3):
                if len(state.memberships[user]) >= wanted:
                    break
                index = bisect.bisect(cumulative, self.rng.random() * cumulative[-1])
                index = min(index, len(communities) - 1)
                if index in state.memberships[user]:
                    continue
                at = found_window + self.rng.random() * join_window
                actions.append(Action(at, "join", user, index))
                state.members[index].append(user)
                state.memberships[user].add(index)
        return actions

    # -- posts ----------------------------------------------------------------------------
    def _posts(self, communities: list[PlannedCommunity], state: _State) -> list[Action]:
        sizes = [len(members) for members in state.members]
        cumulative = list(itertools.accumulate(sizes))
        kinds, kind_weights = zip(*KIND_WEIGHTS.items(), strict=True)
        start = self.span * 0.2
        actions = []
        for post in range(self.sizes.posts):
            community = bisect.bisect(cumulative, self.rng.random() * cumulative[-1])
            community = min(community, len(communities) - 1)
            author = self.rng.choice(state.members[community])
            at = self._rhythmic_time(start, self.span)
            kind = self.rng.choices(kinds, kind_weights)[0]
            text, attribution = self._post_text(kind, communities[community].topic_index)
            actions.append(
                Action(at, "post", author, community, post=post, kind=kind, text=text,
                       attribution=attribution)
            )  # fmt: skip
            state.post_community.append(community)
            state.post_created.append(at)
        return actions

    def _post_text(self, kind: str, topic_index: int) -> tuple[str, str]:
        words = list(TOPICS[topic_index].words)
        if kind == "quote":
            if self.rng.random() < 0.5:
                return self.rng.choice(QUOTES)
            sentence = self.fake.sentence(nb_words=self.rng.randint(8, 16), ext_word_list=None)
            return f"{sentence[:-1]} — like {self.rng.choice(words)}.", self.fake.name()
        caption = self.fake.sentence(nb_words=self.rng.randint(4, 9), ext_word_list=words)
        return caption, ""

    def _rhythmic_time(self, low: float, high: float) -> float:
        while True:
            at = low + self.rng.random() * (high - low)
            if self.rng.random() <= daily_rhythm(at):
                return at

    # -- engagement -----------------------------------------------------------------------
    def _engagement(self, state: _State, bursts: list[Burst]) -> list[Action]:
        post_total = len(state.post_community)
        if post_total == 0 or self.sizes.actions == 0:
            return []
        viral = set(self.rng.sample(range(post_total), self.sizes.viral_posts))
        moments: list[tuple[float, int]] = []
        for post in sorted(viral):
            times = self._burst_times(state, post, self.sizes.actions // (4 * len(viral)))
            if times:
                bursts.append(Burst(post, times[0], times[-1], len(times)))
            moments += [(at, post) for at in times]
        appeal = [self.rng.paretovariate(PARETO_SHAPE) for _ in range(post_total)]
        for post in viral:
            appeal[post] = 0.0
        cumulative = list(itertools.accumulate(appeal))
        for _ in range(max(self.sizes.actions - len(moments), 0)):
            post = bisect.bisect(cumulative, self.rng.random() * cumulative[-1])
            post = min(post, post_total - 1)
            moments.append((self._time_after(state.post_created[post]), post))
        # Verbs are chosen in time order, so a reply follows its parent and an unlike its like.
        moments.sort()
        return [self._engagement_action(state, post, at) for at, post in moments]

    def _burst_times(self, state: _State, post: int, size: int) -> list[float]:
        """A burst of about `size` actions, starting a little after the post appears."""
        start = state.post_created[post] + self.rng.uniform(60, 1800)
        duration = 3 * 3600.0
        base_rate = max(size, 10) * (1 - HAWKES_BRANCHING) / duration
        times = hawkes_times(self.rng, start=start, base_rate=base_rate, duration=duration)
        return [at for at in times if at < self.span]

    def _time_after(self, created: float) -> float:
        """Ordinary posts get most attention in their first hours, less at night."""
        while True:
            at = created + self.rng.expovariate(1 / (4 * 3600.0))
            if at >= self.span:
                at = created + self.rng.random() * (self.span - created)
            if self.rng.random() <= daily_rhythm(at):
                return at

    def _engagement_action(self, state: _State, post: int, at: float) -> Action:
        community = state.post_community[post]
        members = state.members[community]
        # random.choices(ENGAGEMENT_VERBS, cum_weights=...)[0], the same draw without its
        # per-call set-up (this runs once per planned action).
        draw = self.rng.random() * ENGAGEMENT_CUM_WEIGHTS[-1]
        verb = ENGAGEMENT_VERBS[bisect.bisect(ENGAGEMENT_CUM_WEIGHTS, draw, 0, VERB_LAST)]
        user = self.rng.choice(members) if self.rng.random() < 0.8 else None
        if user is None:
            user = self.rng.randrange(self.sizes.users)
        if verb == "like" and (user, post) in state.likes:
            verb = "view"
        if verb == "unlike":
            if (user, post) not in state.likes:
                verb = "view"
            else:
                state.likes.discard((user, post))
                return Action(at, "unlike", user, community, post=post)
        if verb in ("comment", "share") and community not in state.memberships[user]:
            verb = "view"
        if verb == "like":
            state.likes.add((user, post))
        elif verb == "comment":
            return self._comment(state, post, community, user, at)
        elif verb == "share":
            others = sorted(state.memberships[user] - {community})
            target = self.rng.choice(others) if others else None
            text = self.fake.sentence(nb_words=5) if self.rng.random() < 0.5 else ""
            return Action(at, "share", user, community, post=post, target_community=target,
                          text=text)  # fmt: skip
        return Action(at, verb, user, community, post=post)

    def _comment(self, state: _State, post: int, community: int, user: int, at: float) -> Action:
        earlier = state.post_comments.setdefault(post, [])
        parent = self.rng.choice(earlier) if earlier and self.rng.random() < 0.35 else None
        comment = state.comment_count
        state.comment_count += 1
        earlier.append(comment)
        text = self.fake.sentence(nb_words=self.rng.randint(4, 20))
        return Action(at, "comment", user, community, post=post, text=text,
                      parent_comment=parent, comment=comment)  # fmt: skip


def plan_history(sizes: SeedSizes, seed: int, **taken: frozenset[str]) -> Plan:
    return Planner(sizes, seed, **taken).plan()


def _slugify(name: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else " " for ch in name.lower()).split())[:50]


@dataclass(frozen=True)
class LiveWorld:
    """What live traffic acts on: people, communities (with their members) and posts that
    already exist, by index; the replayer holds the matching rows."""

    users: int
    members: list[list[int]]
    post_communities: list[int]
    likes: frozenset[tuple[int, int]] = frozenset()
    comments: dict[int, list[int]] = field(default_factory=dict)
    comment_count: int = 0


class LiveTraffic:
    """An endless, seeded stream of actions on an existing world, for `--live`.

    Most actions engage with recent posts by their appeal; now and then someone posts; and
    from time to time a post starts a burst: its share of the traffic jumps and decays, and
    every action on it re-excites it (the same self-exciting shape as the history's bursts)."""

    NEW_POST_SHARE = 0.03
    BURST_START_PER_ACTION = 1 / 2000
    BURST_KICK = 150.0
    BURST_REKICK = 0.5

    def __init__(self, world: LiveWorld, *, seed: int, users: int) -> None:
        self.planner = Planner(
            SeedSizes(
                users=max(users, 2), communities=1, posts=0, actions=0, days=0, viral_posts=0
            ),
            seed,
        )
        self.rng = self.planner.rng
        memberships: list[set[int]] = [set() for _ in range(world.users)]
        for community, members in enumerate(world.members):
            for user in members:
                memberships[user].add(community)
        self.state = _State(members=world.members, memberships=memberships)
        self.state.post_community = list(world.post_communities)
        self.state.post_created = [0.0] * len(world.post_communities)
        self.state.likes = set(world.likes)
        self.state.post_comments = {post: list(c) for post, c in world.comments.items()}
        self.state.comment_count = world.comment_count
        self.appeal = [self.rng.paretovariate(PARETO_SHAPE) for _ in world.post_communities]
        self.excitement: dict[int, float] = {}
        self.bursts: list[Burst] = []

    def next_action(self, at: float) -> Action:
        if not self.state.post_community or self.rng.random() < self.NEW_POST_SHARE:
            return self._new_post(at)
        self._decay()
        if self.rng.random() < self.BURST_START_PER_ACTION:
            self._start_burst(at)
        post = self._pick_post()
        if post in self.excitement:
            self.excitement[post] += self.BURST_REKICK
            self._burst_count(post, at)
        return self.planner._engagement_action(self.state, post, at)

    def _new_post(self, at: float) -> Action:
        community = self.rng.randrange(len(self.state.members))
        while not self.state.members[community]:
            community = self.rng.randrange(len(self.state.members))
        author = self.rng.choice(self.state.members[community])
        kind = self.rng.choices(list(KIND_WEIGHTS), list(KIND_WEIGHTS.values()))[0]
        text, attribution = self.planner._post_text(kind, community % len(TOPICS))
        post = len(self.state.post_community)
        self.state.post_community.append(community)
        self.state.post_created.append(at)
        self.appeal.append(self.rng.paretovariate(PARETO_SHAPE))
        return Action(at, "post", author, community, post=post, kind=kind, text=text,
                      attribution=attribution)  # fmt: skip

    def _pick_post(self) -> int:
        recent = max(len(self.appeal) - 500, 0)
        weights = self.appeal[recent:]
        boosted = [w + self.excitement.get(recent + i, 0.0) * 5 for i, w in enumerate(weights)]
        return recent + self.rng.choices(range(len(boosted)), boosted)[0]

    def _start_burst(self, at: float) -> None:
        recent = max(len(self.appeal) - 100, 0)
        post = self.rng.randrange(recent, len(self.appeal))
        self.excitement[post] = self.excitement.get(post, 0.0) + self.BURST_KICK
        self.bursts.append(Burst(post, at, at, 0))

    def _burst_count(self, post: int, at: float) -> None:
        for index in range(len(self.bursts) - 1, -1, -1):
            burst = self.bursts[index]
            if burst.post == post:
                self.bursts[index] = Burst(post, burst.start, at, burst.actions + 1)
                return

    def _decay(self) -> None:
        for post in list(self.excitement):
            self.excitement[post] *= 0.995
            if self.excitement[post] < 0.05:
                del self.excitement[post]
