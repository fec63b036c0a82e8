from django.db import models

from spark_jobs.contract import GRAIN_DAY, GRAIN_HOUR, GRAIN_WINDOW, Tables


class EngagementGrain(models.TextChoices):
    """Time buckets of the engagement tables. `window` is the streaming job's event-time
    window (1 minute unless the job runs with another `--window`); `hour` and `day` are
    aggregated by the job the same way, from the same events."""

    WINDOW = GRAIN_WINDOW, "stream window"
    HOUR = GRAIN_HOUR, "hour"
    DAY = GRAIN_DAY, "day"


class EngagementCounts(models.Model):
    """Counts of one entity in one time bucket, written only by `spark_jobs.engagement`.

    Spark keeps each bucket's counts and actor sketch in its streaming state and writes the
    buckets a batch changed: every value is *set* from that state, never incremented, so a
    replayed batch writes the same values again. `engagement_score` weighs the counts by
    `spark_jobs.contract.SCORE_WEIGHTS`. Buckets are [window_start,
    window_end) in UTC. A bucket is final once its window_end is at or before the watermark
    recorded in `SparkBatch`; later events are dropped by the job."""

    grain = models.CharField(max_length=8, choices=EngagementGrain.choices)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    views = models.PositiveIntegerField(default=0)
    likes = models.PositiveIntegerField(default=0)
    unlikes = models.PositiveIntegerField(default=0)
    net_likes = models.IntegerField(default=0, help_text="likes - unlikes; may be negative.")
    comments = models.PositiveIntegerField(default=0)
    shares = models.PositiveIntegerField(default=0)
    distinct_actors = models.PositiveIntegerField(
        default=0,
        help_text="Distinct users behind the counted events, estimated from actors_sketch "
        "(exact below ~1,500; about 0.8% relative error above).",
    )
    actors_sketch = models.BinaryField(
        null=True,
        blank=True,
        help_text="HyperLogLog sketch (Apache DataSketches) of the actors, for unions.",
    )
    engagement_score = models.DecimalField(max_digits=14, decimal_places=1, default=0)
    updated_at = models.DateTimeField()

    class Meta:
        abstract = True


class PostEngagement(EngagementCounts):
    """Engagement of one post per window, hour and day. `distinct_actors` counts users who
    viewed, liked, unliked, commented or shared. No foreign keys: the stream must never
    block on a post that was deleted or not yet replicated."""

    post_id = models.BigIntegerField()
    community_id = models.BigIntegerField()

    class Meta:
        db_table = Tables.POST_ENGAGEMENT
        constraints = [
            models.UniqueConstraint(
                fields=["post_id", "grain", "window_start"], name="post_engagement_key"
            )
        ]
        indexes = [
            models.Index(fields=["grain", "window_start"], name="post_eng_grain_start"),
            models.Index(
                fields=["community_id", "grain", "window_start"], name="post_eng_community"
            ),
        ]

    def __str__(self) -> str:
        return f"post {self.post_id} {self.grain} {self.window_start:%Y-%m-%d %H:%M}"


class CommunityEngagement(EngagementCounts):
    """Engagement of one community per window, hour and day: the sums over its posts plus
    community-level activity. `distinct_actors` counts users with any counted event in the
    community (engaging with a post, posting, joining or leaving)."""

    community_id = models.BigIntegerField()
    posts_created = models.PositiveIntegerField(default=0)
    members_joined = models.PositiveIntegerField(default=0)
    members_left = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = Tables.COMMUNITY_ENGAGEMENT
        constraints = [
            models.UniqueConstraint(
                fields=["community_id", "grain", "window_start"], name="community_engagement_key"
            )
        ]
        indexes = [models.Index(fields=["grain", "window_start"], name="community_eng_grain_start")]

    def __str__(self) -> str:
        return f"community {self.community_id} {self.grain} {self.window_start:%Y-%m-%d %H:%M}"


class EngagementStaging(models.Model):
    """The engagement job's scratch table: Spark's executors write the buckets a micro-batch
    changed here (through Spark's JDBC writer), then one transaction moves them into the post
    and community tables with the batch's ledger row, and deletes them. Rows of an attempt
    that crashed before its commit are deleted by the next commit."""

    batch_id = models.BigIntegerField()
    token = models.CharField(max_length=32, help_text="One attempt at writing a batch.")
    post_id = models.BigIntegerField(help_text="0 for a community row.")
    community_id = models.BigIntegerField()
    grain = models.CharField(max_length=8, choices=EngagementGrain.choices)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    views = models.PositiveIntegerField(default=0)
    likes = models.PositiveIntegerField(default=0)
    unlikes = models.PositiveIntegerField(default=0)
    net_likes = models.IntegerField(default=0)
    comments = models.PositiveIntegerField(default=0)
    shares = models.PositiveIntegerField(default=0)
    posts_created = models.PositiveIntegerField(default=0)
    members_joined = models.PositiveIntegerField(default=0)
    members_left = models.PositiveIntegerField(default=0)
    distinct_actors = models.PositiveIntegerField(default=0)
    actors_sketch = models.BinaryField(null=True)
    engagement_score = models.DecimalField(max_digits=14, decimal_places=1, default=0)

    class Meta:
        db_table = Tables.ENGAGEMENT_STAGING
        indexes = [models.Index(fields=["token"], name="engagement_staging_token")]

    def __str__(self) -> str:
        return f"staged {self.grain} {self.window_start:%Y-%m-%d %H:%M} (batch {self.batch_id})"


class EngagementDeadLetter(models.Model):
    """A Kafka message the engagement job could not parse or validate, kept byte for byte.
    Unique on its Kafka position, so replaying the same offsets adds nothing."""

    topic = models.CharField(max_length=255)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    kafka_timestamp = models.DateTimeField(null=True, blank=True)
    raw_key = models.BinaryField(null=True, blank=True)
    raw_value = models.BinaryField(null=True, blank=True)
    error = models.CharField(max_length=255)
    received_at = models.DateTimeField(help_text="When the job wrote the row.")

    class Meta:
        db_table = Tables.DEAD_LETTER
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "partition", "offset"], name="engagement_dead_letter_key"
            )
        ]
        indexes = [models.Index(fields=["received_at"], name="engagement_dead_letter_recv")]

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}: {self.error}"

    @property
    def raw_text(self) -> str:
        return bytes(self.raw_value or b"").decode("utf-8", errors="replace")


class SparkBatch(models.Model):
    """The ledger of micro-batches a streaming query has applied, written in the same
    transaction as the batch's rows. A batch id is only unique within one checkpoint, so
    the key includes Spark's query id (kept in the checkpoint): after a checkpoint reset the
    new query starts again at batch 0 without being mistaken for the old one."""

    query_name = models.CharField(max_length=64)
    query_id = models.CharField(max_length=36)
    batch_id = models.BigIntegerField()
    topic = models.CharField(max_length=255)
    start_offsets = models.JSONField(
        null=True, blank=True, help_text='{"partition": offset}; null when not known.'
    )
    end_offsets = models.JSONField(help_text='{"partition": next offset to read}.')
    message_count = models.BigIntegerField(null=True, blank=True)
    output_rows = models.IntegerField(default=0)
    late_events = models.IntegerField(
        db_default=0,
        help_text="Events that arrived behind the watermark and were not counted.",
    )
    watermark = models.DateTimeField(null=True, blank=True)
    batch_started_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField()

    class Meta:
        db_table = Tables.SPARK_BATCH
        constraints = [
            models.UniqueConstraint(
                fields=["query_name", "query_id", "batch_id"], name="spark_batch_key"
            )
        ]
        indexes = [models.Index(fields=["query_name", "applied_at"], name="spark_batch_latest")]

    def __str__(self) -> str:
        return f"{self.query_name} batch {self.batch_id}"


class ModelRun(models.Model):
    """One training of the trend model (`spark_jobs.trends.train`), recorded by the Celery
    task that launched it. `metrics` holds the holdout figures of the chosen model, of each
    candidate algorithm and of the baselines, all measured in the same run:
    {"model"|"gbt"|"linear"|"persistence"|"szabo_huberman": {"mae_log1p", "spearman",
    "precision_at_10", "rows"}}. A run is promoted (used for predictions) only when it
    succeeded and its model beat persistence on MAE; the newest promoted run is the live one."""

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"

    version = models.CharField(max_length=40, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    trained_at = models.DateTimeField(null=True, blank=True, help_text="When training ended.")
    duration_seconds = models.FloatField(null=True, blank=True)
    horizon_minutes = models.PositiveIntegerField()
    algorithm = models.CharField(max_length=16, blank=True, help_text="gbt or linear.")
    training_rows = models.PositiveIntegerField(null=True, blank=True)
    holdout_rows = models.PositiveIntegerField(null=True, blank=True)
    data_until = models.DateTimeField(
        null=True, blank=True, help_text="Last prediction time whose horizon had ended."
    )
    holdout_from = models.DateTimeField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    artefact_path = models.CharField(max_length=500, blank=True)
    promoted = models.BooleanField(default=False)
    promotion_note = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        db_table = Tables.MODEL_RUN
        indexes = [models.Index(fields=["promoted", "status", "id"], name="model_run_live")]

    def __str__(self) -> str:
        return f"model {self.version} ({self.status})"


class PredictionRun(models.Model):
    """One application of the live model (`spark_jobs.trends.predict`): the batch of
    TrendPrediction and CommunityTrend rows it wrote. Readers use the newest succeeded run
    only, so a batch becomes visible at once, when the task marks it succeeded."""

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"

    model_run = models.ForeignKey(
        ModelRun, on_delete=models.CASCADE, null=True, blank=True, related_name="prediction_runs"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    as_of = models.DateTimeField(
        null=True, blank=True, help_text="The prediction time: features use data before it."
    )
    posts_scored = models.PositiveIntegerField(null=True, blank=True)
    communities_scored = models.PositiveIntegerField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        db_table = Tables.PREDICTION_RUN
        indexes = [models.Index(fields=["status", "id"], name="prediction_run_latest")]

    def __str__(self) -> str:
        return f"predictions #{self.pk} ({self.status})"


class TrendPrediction(models.Model):
    """A post's predicted engagement score over the model's horizon after `as_of`.

    `trend_score` = log2((predicted + 1) / (last hour's engagement + 1)): above 0 the post is
    expected to gain pace. `rank` orders the batch by predicted engagement (1 = most). The
    foreign key has no database constraint: the Spark job writes while posts may be deleted."""

    run = models.ForeignKey(PredictionRun, on_delete=models.CASCADE, related_name="posts")
    model_run = models.ForeignKey(ModelRun, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(
        "posts.Post", on_delete=models.CASCADE, db_constraint=False, related_name="+"
    )
    predicted_engagement = models.FloatField()
    last_hour_engagement = models.FloatField(default=0)
    trend_score = models.FloatField()
    rank = models.PositiveIntegerField()
    as_of = models.DateTimeField()
    generated_at = models.DateTimeField()

    class Meta:
        db_table = Tables.TREND_PREDICTION
        constraints = [models.UniqueConstraint(fields=["run", "post"], name="trend_prediction_key")]
        indexes = [models.Index(fields=["run", "rank"], name="trend_prediction_rank")]

    def __str__(self) -> str:
        return f"post {self.post_id} #{self.rank} ({self.predicted_engagement:.1f})"


class CommunityTrend(models.Model):
    """A community's predicted engagement over the horizon: the sum over its candidate
    posts' predictions, with the same trend score and ranking as TrendPrediction."""

    run = models.ForeignKey(PredictionRun, on_delete=models.CASCADE, related_name="communities")
    model_run = models.ForeignKey(ModelRun, on_delete=models.CASCADE, related_name="+")
    community = models.ForeignKey(
        "communities.Community", on_delete=models.CASCADE, db_constraint=False, related_name="+"
    )
    predicted_engagement = models.FloatField()
    last_hour_engagement = models.FloatField(default=0)
    trend_score = models.FloatField()
    rank = models.PositiveIntegerField()
    posts_scored = models.PositiveIntegerField(default=0)
    as_of = models.DateTimeField()
    generated_at = models.DateTimeField()

    class Meta:
        db_table = Tables.COMMUNITY_TREND
        constraints = [
            models.UniqueConstraint(fields=["run", "community"], name="community_trend_key")
        ]
        indexes = [models.Index(fields=["run", "rank"], name="community_trend_rank")]

    def __str__(self) -> str:
        return f"community {self.community_id} #{self.rank} ({self.predicted_engagement:.1f})"
