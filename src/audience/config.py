"""Typed workspace configuration, read from ``audience.toml``.

Every key is documented where it is declared. Unknown keys and wrong types are refused
with an error that names the key (``ingest.chunk_rows``), what was given and what type
is expected, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from audience.errors import ConfigError
from audience.segment_ids import SUPPRESSED

CONFIG_FILE = "audience.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Section):
    """Where the workspace keeps its tables."""

    engine: Literal["duckdb"] = "duckdb"
    """The storage engine. DuckDB, embedded in the workspace folder, is the default."""

    database: str = "audience.duckdb"
    """The database file, relative to the workspace folder."""

    memory_limit: str = "1GB"
    """DuckDB's memory limit; larger work spills to disk, keeping ingest within bounded RAM."""

    threads: Annotated[int, Field(ge=1, le=256)] | None = None
    """Worker threads for DuckDB; ``None`` uses every core."""

    lock_timeout_seconds: Annotated[float, Field(ge=0, le=7 * 24 * 3600)] = 600.0
    """How long a command waits for the workspace while another one writes it (one writer at a
    time; readers wait for a writer, and a writer for readers) before giving up."""


class IngestConfig(_Section):
    """How files are read and checked."""

    chunk_rows: Annotated[int, Field(ge=1_000, le=5_000_000)] = 200_000
    """Rows read, validated and staged at a time; bounds memory whatever the file size."""

    memory_limit: str = "512MB"
    """DuckDB's memory limit while ingesting (the chunk being validated in Python needs the
    rest): keeps a multi-GB ingest under 2 GB of RAM. Staging beyond it spills to disk."""

    future_tolerance_hours: Annotated[float, Field(ge=0, le=24 * 30)] = 24.0
    """How far past the ingest time a timestamp may lie before it is refused as "in the
    future". A day covers clocks and time zones that disagree; anything later is a bug."""

    earliest_timestamp: date = date(1990, 1, 1)
    """The earliest date a timestamp (an event's, an order's, a signup) may have. Earlier
    ones are quarantined: they are the epoch (1970) or a year 0 written by a broken export,
    not email marketing, and a date before year 1 breaks later date arithmetic."""

    engine_checks: bool = True
    """Check the rows of a CSV or Parquet file that plainly pass in DuckDB, at the speed it
    reads, and only the rest in Python. The results are the same either way; false sends
    every row through the Python checks (slower; for comparing the two)."""


class FeaturesConfig(_Section):
    """How per-contact features are defined (see :mod:`audience.features`)."""

    memory_limit: str = "3GB"
    """DuckDB's memory limit while computing features: their per-contact distinct counts
    over tens of millions of events do not all spill to disk, and 3 GB keeps the process
    within 4 GB for a million contacts."""

    btyd_period: Literal["day", "week"] = "day"
    """The period of the BTYD summary (frequency, recency, T): repeat purchases within one
    period count once, as in lifetimes' ``summary_data_from_transaction_data(freq=...)``."""

    abandon_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 24.0
    """A cart (the cart adds and checkouts of one UTC day) is abandoned when no order
    follows within this many hours of its last event."""

    new_days: Annotated[int, Field(ge=0)] = 30
    """Engagement tier ``new``: signed up fewer than this many days before ``as_of``."""

    high_days: Annotated[int, Field(ge=1)] = 30
    """Tier ``high``: clicked within this many days, or opened within them with a human
    open rate of at least ``high_open_rate``."""

    high_open_rate: Annotated[float, Field(ge=0, le=1)] = 0.3
    """The human open rate that, with a recent open, makes a contact highly engaged."""

    medium_days: Annotated[int, Field(ge=1)] = 90
    """Tier ``medium``: a human open or click within this many days."""

    dormant_days: Annotated[int, Field(ge=1)] = 180
    """Tier ``dormant``: no human open or click within this many days (or ever); between
    ``medium_days`` and this, the tier is ``low``."""


NumericImpute = Literal["median", "mean", "zero"]
CategoricalImpute = Literal["constant", "most_frequent"]
Scaler = Literal["standard", "robust", "minmax"]

HEAVY_TAILED = (
    "order_count", "revenue_total", "revenue_mean", "days_between_orders_mean",
    "btyd_frequency", "btyd_monetary_value", "emails_delivered", "opens_human_unique",
    "opens_machine_unique", "clicks_unique", "product_views", "cart_adds",
    "checkouts_started", "abandoned_carts", "visits_7d", "visits_30d", "visits_90d",
)  # fmt: skip
"""Counts and money whose long right tail would dominate distances unless logged."""

CATEGORICAL = ("engagement_tier", "top_category", "country", "rfm_group")
MISSING_LEVEL = "missing"
"""The level a missing categorical gets with ``categorical_impute = "constant"``."""


class PreprocessConfig(_Section):
    """How features are prepared for clustering (``[preprocess]`` in ``audience.toml``).

    Its fields are exactly the parameters of
    :class:`audience.features.preprocess.Preprocessor`.
    """

    numeric_impute: NumericImpute = "median"
    """Fill for a missing number. The median resists the long tails of counts and money;
    "zero" suits counts where missing means none."""

    categorical_impute: CategoricalImpute = "constant"
    """Fill for a missing category. "constant" gives it its own level ``missing`` (no top
    category means no orders: information worth a column); "most_frequent" uses the
    commonest level, and then a missing indicator is added as for numbers."""

    add_missing_indicators: bool = True
    """Add a 0/1 ``missingindicator_<column>`` for each column with missing values at fit,
    so "never ordered" stays distinguishable from "ordered at the median time"."""

    log1p: list[str] = Field(default_factory=lambda: list(HEAVY_TAILED))
    """Numeric columns to log (sign-safe ``log1p``) before Yeo–Johnson: heavy-tailed counts
    and money. Columns absent from the frame are ignored."""

    power_transform: bool = True
    """Apply Yeo–Johnson to every numeric column, making each roughly symmetric so that
    k-means and Gaussian mixtures see comparable spreads. New rows are first clipped to
    each column's range at fit, where the fitted transform is known to stay finite."""

    scaler: Scaler = "standard"
    """Scaling of numeric columns after the transforms: "standard" (mean 0, variance 1),
    "robust" (median 0, IQR 1; outliers move it less), "minmax" (0 to 1)."""

    one_hot_max_categories: Annotated[int, Field(ge=2)] = 12
    """Most one-hot columns per categorical. Beyond it the rarest levels are grouped into
    one ``<column>_infrequent_sklearn`` column (kept, not dropped: country stays usable)."""

    drop_constant: bool = True
    """Drop columns with a single value at fit; they carry nothing and only cost time."""

    correlation_threshold: Annotated[float, Field(gt=0, le=1)] = 0.95
    """Drop one of each pair of columns with ``|r|`` above this, keeping the first in output
    order (numeric columns in frame order, then indicators, then one-hot). ``1.0`` keeps
    every pair."""

    exclude: list[str] = Field(default_factory=list)
    """Columns never used, whatever their type (identifiers, leaked labels)."""

    categorical: list[str] = Field(default_factory=lambda: list(CATEGORICAL))
    """Columns one-hot encoded; absent ones are ignored. A column listed here is treated as
    categorical even if numeric; every other non-numeric column is dropped with a reason."""


ClusterMethod = Literal["kmeans", "gmm", "hierarchical", "dbscan", "hdbscan", "kprototypes"]
"""Every clustering method, as ``audience.toml`` and ``--method`` spell it (one owner:
:mod:`audience.models.registry` maps these names to estimators)."""
MethodChoice = Literal["auto", ClusterMethod]
"""A method, or ``auto`` to compare ``[models] methods``."""

CLUSTER_FEATURES = (
    "recency_days", "order_count", "revenue_total", "revenue_mean", "days_between_orders_mean",
    "emails_delivered", "opens_human_unique", "clicks_unique", "open_rate_human", "ctr",
    "days_since_last_open", "days_since_last_click", "product_views", "cart_adds",
    "abandoned_carts", "visits_30d", "visits_90d", "tenure_days",
)  # fmt: skip
"""Behaviour the segments are made of. Derived scores (R/F/M scores, RFM group, tier)
would count the same behaviour twice; suppression flags and country are for rules."""


class KMeansParams(_Section):
    """``[models.kmeans]``: :class:`audience.models.kmeans.KMeansSegmenter`."""

    n_init: Annotated[int, Field(ge=1, le=100)] = 3
    """k-means++ starts per fit; the best (lowest inertia) is kept."""
    max_iter: Annotated[int, Field(ge=1)] = 300
    algorithm: Literal["auto", "lloyd", "minibatch"] = "auto"
    """"minibatch" for data too large for full passes; "auto" uses it above ``minibatch_above``."""
    minibatch_above: Annotated[int, Field(ge=1)] = 5_000_000
    batch_size: Annotated[int, Field(ge=16)] = 4096


class GaussianMixtureParams(_Section):
    """``[models.gmm]``: :class:`audience.models.mixture.GaussianMixtureSegmenter`."""

    covariance_type: Literal["full", "tied", "diag", "spherical"] = "diag"
    n_init: Annotated[int, Field(ge=1, le=100)] = 1
    max_iter: Annotated[int, Field(ge=1)] = 200
    reg_covar: Annotated[float, Field(gt=0)] = 1e-3
    """Added to variances: 0/1 indicator columns would otherwise collapse them to zero."""


class HierarchicalParams(_Section):
    """``[models.hierarchical]``: :class:`audience.models.hierarchical.HierarchicalSegmenter`."""

    exact_max: Annotated[int, Field(ge=2, le=50_000)] = 10_000
    """Exact Ward up to this many rows; beyond it, Ward on the size-weighted centres of
    ``n_micro`` k-means micro-clusters. Exact Ward's time and memory grow with the square:
    ~5 s at 10,000 rows here, ~40 s and 3.3 GB at 20,000, so the default is 10,000."""
    n_micro: Annotated[int, Field(ge=2, le=5_000)] = 1_000


class DBSCANParams(_Section):
    """``[models.dbscan]``: :class:`audience.models.density.DBSCANSegmenter`."""

    eps: Annotated[float, Field(gt=0)] | None = None
    """Neighbourhood radius; unset: the knee of the sorted k-distances."""
    min_samples: Annotated[int, Field(ge=2)] = 10
    max_fit_samples: Annotated[int, Field(ge=100)] = 50_000
    """Rows the density model is fitted on; the others are assigned by nearest core row."""


class HDBSCANParams(_Section):
    """``[models.hdbscan]``: :class:`audience.models.density.HDBSCANSegmenter`."""

    min_cluster_size: Annotated[int, Field(ge=2)] | None = None
    """Smallest segment; unset: 1% of the rows fitted (at least 5)."""
    min_samples: Annotated[int, Field(ge=1)] | None = None
    max_fit_samples: Annotated[int, Field(ge=100)] = 50_000


class KPrototypesParams(_Section):
    """``[models.kprototypes]``: :class:`audience.models.kprototypes.KPrototypesSegmenter`."""

    categorical: list[str] = Field(default_factory=lambda: ["top_category", "engagement_tier"])
    """Feature columns compared by matching (not one-hot encoded) in k-prototypes."""
    gamma: Annotated[float, Field(gt=0)] | None = None
    """Weight of one categorical mismatch against squared distance; unset: half the mean
    standard deviation of the numeric columns (Huang 1998)."""
    n_init: Annotated[int, Field(ge=1, le=100)] = 4
    max_iter: Annotated[int, Field(ge=1)] = 100


_DEFAULT_METHODS: tuple[ClusterMethod, ...] = ("kmeans", "gmm")


class ModelsConfig(_Section):
    """How contacts are clustered and how the method and number of segments are chosen
    (``[models]``; the rule is documented in :mod:`audience.models.selection`)."""

    method: MethodChoice = "auto"
    """``auto`` sweeps ``methods``; a method name uses only that one."""
    methods: list[ClusterMethod] = Field(default_factory=lambda: [*_DEFAULT_METHODS], min_length=1)
    """The methods ``auto`` compares, in order of preference for ties."""
    k: Annotated[int, Field(ge=2)] | None = None
    """A fixed number of segments; unset: chosen within ``k_min``..``k_max``."""
    k_min: Annotated[int, Field(ge=2)] = 2
    k_max: Annotated[int, Field(ge=2, le=100)] = 12
    min_segment_share: Annotated[float, Field(ge=0, lt=1)] = 0.01
    """Reject a candidate with a segment holding less than this share of contacts."""
    max_noise_share: Annotated[float, Field(ge=0, lt=1)] = 0.2
    """Reject a density candidate leaving more than this share of contacts as outliers."""
    min_stability: Annotated[float, Field(ge=-1, le=1)] = 0.75
    """Reject a candidate whose refits on half samples agree less (adjusted Rand index)."""
    tolerance: Annotated[float, Field(ge=0, lt=1)] = 0.01
    """Silhouettes this close to the best count as equally good; the most segments wins."""
    sample_size: Annotated[int, Field(ge=100)] = 10_000
    """Contacts the sweep fits on; the chosen model is then fitted on all of them. 10,000
    found the planted personas as well as 20,000 did (k and ARI equal on 20k and 200k
    generated audiences) in half the time."""
    preprocess_sample: Annotated[int, Field(ge=1_000)] = 50_000
    """Contacts the preprocessing is fitted on (medians, Yeo–Johnson, scales, correlations)
    before it transforms all of them: fitting Yeo–Johnson on 1M rows took 23 s, on 50k 1 s,
    with the same columns and transforms within a few hundredths of a standard deviation."""
    silhouette_sample: Annotated[int, Field(ge=100, le=20_000)] = 4_000
    """Contacts the silhouette is computed on (exact silhouette costs the square of it)."""
    n_subsamples: Annotated[int, Field(ge=1, le=50)] = 3
    """Refits per stability estimate."""
    random_state: int = 0
    features: list[str] = Field(default_factory=lambda: list(CLUSTER_FEATURES), min_length=1)
    """Feature columns clustered on (after ``[preprocess]``)."""
    kmeans: KMeansParams = KMeansParams()
    gmm: GaussianMixtureParams = GaussianMixtureParams()
    hierarchical: HierarchicalParams = HierarchicalParams()
    dbscan: DBSCANParams = DBSCANParams()
    hdbscan: HDBSCANParams = HDBSCANParams()
    kprototypes: KPrototypesParams = KPrototypesParams()

    @model_validator(mode="after")
    def _k_range(self) -> ModelsConfig:
        if self.k_min > self.k_max:
            raise ValueError(f"k_min ({self.k_min}) must not exceed k_max ({self.k_max})")
        if "kprototypes" in self.methods and len(self.methods) > 1:
            # Its matrix differs (categories as codes, not one-hot), so its silhouettes are
            # not comparable with the other methods'.
            raise ValueError(
                "methods cannot mix kprototypes with other methods; run it alone "
                '(method = "kprototypes" or --method kprototypes)'
            )
        return self


SegmentSlug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
"""A segment path component: lower-case letters, digits, ``-`` and ``_``."""

_DEFAULT_SUPPRESS = {
    "unsubscribed": "is_unsubscribed = 1",
    "bounced": "is_bounced = 1",
    "complained": "is_complained = 1",
    "no_consent": "consent IS NULL OR consent <> 'subscribed'",
}


class IdentityConfig(_Section):
    """How a new run's clusters keep the ids of the previous run's segments
    (``[segments.identity]``; :mod:`audience.segments.identity`).

    Inside each branch, new clusters and old segments are paired one to one by an optimal
    assignment on the Jaccard index of their memberships; where too few contacts are in
    both runs for memberships to say anything, on the distance between their centres."""

    min_jaccard: Annotated[float, Field(gt=0, le=1)] = 0.3
    """A new cluster keeps an old segment's id (and any rename) only when the Jaccard index
    of their memberships is at least this."""
    min_common_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    """Memberships are compared when at least this share of the branch's contacts (in
    either run) is in both runs; below it, clusters are matched by their centres."""
    max_centroid_distance: Annotated[float, Field(gt=0)] = 0.5
    """Centre matching: the largest root-mean-square distance between two centres, in
    population standard deviations of each feature, that still counts as the same segment."""
    link_min_share: Annotated[float, Field(gt=0, le=1)] = 0.2
    """A split (or merge) is recorded when at least this share of an old segment's contacts
    went to a new segment other than its successor (or of a new segment's contacts came from
    an old segment other than its predecessor)."""


class BroadSegment(_Section):
    """A rule segment of the second layer (``[[segments.broad]]``); the first match wins."""

    id: SegmentSlug
    """The segment's id and the first part of its children's paths (``customers/…``)."""
    rule: str = Field(min_length=1)
    """A SQL condition over feature and contact columns, e.g. ``order_count >= 1``."""
    name: str | None = None
    """A display name; unset: named like a persona from its profile."""
    cluster: bool = True
    """Cluster the contacts of this segment (``[models]``, with ``method`` and ``k`` below)."""
    method: MethodChoice | None = None
    """Overrides ``models.method`` inside this segment."""
    k: Annotated[int, Field(ge=2)] | None = None
    """Overrides ``models.k`` inside this segment."""


class SegmentsConfig(_Section):
    """The segment hierarchy (``[segments]``): suppression, broad rule segments, clusters
    inside each, and a fallback. Rules are SQL conditions over the feature columns and the
    contact columns ``consent``, ``signup_at`` and ``email_domain``."""

    suppress: dict[SegmentSlug, str] = Field(default_factory=lambda: dict(_DEFAULT_SUPPRESS))
    """Reason → rule. A contact matching any is ``suppressed/<reason>`` (the first that
    matches) and is left out of everything downstream: clustering, profiles, exports."""
    broad: list[BroadSegment] = Field(
        default_factory=lambda: [
            BroadSegment(id="customers", rule="order_count >= 1", name="Customers"),
            BroadSegment(id="prospects", rule="order_count = 0", name="Prospects"),
        ]
    )
    """The broad segments, in order; a contact joins the first whose rule it matches."""
    fallback: SegmentSlug | Literal[""] | None = "other"
    """Where contacts matching no broad rule go (not clustered); ``""``: they get no segment."""
    min_share: Annotated[float, Field(ge=0, lt=0.5)] = 0.01
    """A cluster under this share of its branch is merged into its nearest neighbour."""
    min_cluster_contacts: Annotated[int, Field(ge=10)] = 200
    """A branch with fewer contacts than this is one segment, not clustered."""
    identity: IdentityConfig = IdentityConfig()
    """How clusters keep their ids from one run to the next."""

    @model_validator(mode="after")
    def _unique_ids(self) -> SegmentsConfig:
        ids = [b.id for b in self.broad] + ([self.fallback] if self.fallback else [])
        taken = {SUPPRESSED, *(i for i in ids if ids.count(i) > 1)}
        clash = sorted(taken & set(ids))
        if clash:
            raise ValueError(
                f"segment ids must be unique and not 'suppressed'; repeated or reserved: {clash}"
            )
        return self


class DriftConfig(_Section):
    """How feature drift between a run and the previous one is measured and judged
    (``[drift]``): population stability index and the two-sample Kolmogorov–Smirnov
    statistic, for the population and for each segment."""

    psi_watch: Annotated[float, Field(gt=0)] = 0.1
    """A feature whose PSI is at least this is marked ``watch``."""
    psi_alert: Annotated[float, Field(gt=0)] = 0.25
    """A feature whose PSI is at least this is marked ``alert`` (and raises an alert)."""
    ks_alert: Annotated[float, Field(gt=0, le=1)] = 0.2
    """A feature whose KS statistic is at least this is marked ``alert`` too."""
    bins: Annotated[int, Field(ge=2, le=100)] = 10
    """PSI bins: quantiles of the previous run's values (distinct edges only)."""
    min_contacts: Annotated[int, Field(ge=10)] = 200
    """Segments with fewer contacts than this in either run's sample are not tested (too
    noisy)."""
    sample: Annotated[int, Field(ge=0)] = 200_000
    """Contactable contacts of each run drift is measured on (a seeded sample; 0 = all).
    On 1M generated contacts (22 features, 15 segments) comparing two runs took 10–13 s
    on every contact and 4 s on 200,000, whose PSI and KS were within 0.001 and 0.003 of
    the full values for the population, 0.005 and 0.02 for segments."""

    @model_validator(mode="after")
    def _ordered(self) -> DriftConfig:
        if self.psi_watch > self.psi_alert:
            raise ValueError(
                f"psi_watch ({self.psi_watch}) must not exceed psi_alert ({self.psi_alert})"
            )
        return self


class WebhookDestination(_Section):
    """A signed webhook (``[[alerts.webhooks]]``): each alert is POSTed as JSON with
    ``X-Audience-Timestamp`` and ``X-Audience-Signature: sha256=<hex>``, the HMAC-SHA256 of
    ``<timestamp>.<body>`` under the secret, and ``X-Audience-Delivery`` (the same on every
    retry). See :mod:`audience.activate.webhooks`."""

    url: str = Field(pattern=r"^https?://")
    """Where to POST."""
    secret_env: str | None = None
    """The environment variable holding the signing secret (never written in this file)."""
    secret_file: str | None = None
    """Or a file holding it, outside the workspace database (relative to the workspace)."""
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    """How long one attempt may take."""
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 5
    """Attempts before a delivery is logged as failed (exponential backoff with jitter
    between them, ``Retry-After`` honoured)."""

    @model_validator(mode="after")
    def _one_secret(self) -> WebhookDestination:
        if (self.secret_env is None) == (self.secret_file is None):
            raise ValueError("set exactly one of secret_env and secret_file")
        return self


class AlertsConfig(_Section):
    """When a run or refresh raises an alert, and where alerts go (``[alerts]``). Every alert
    is stored (table ``alerts``) and logged; webhooks get it too."""

    size_change: Annotated[float, Field(gt=0)] = 0.5
    """A segment whose size changed by at least this share of its previous size."""
    min_silhouette: Annotated[float, Field(ge=-1, le=1)] = 0.05
    """A branch whose chosen model's silhouette fell below this."""
    min_stability: Annotated[float, Field(ge=-1, le=1)] = 0.6
    """A branch whose chosen model's stability (ARI of refits) fell below this."""
    webhooks: list[WebhookDestination] = Field(default_factory=list)
    """Signed webhooks that receive every alert."""


class RefreshConfig(_Section):
    """``audience refresh`` (``[refresh]``): new files, features as of now, a new run."""

    drop: list[str] = Field(default_factory=lambda: ["inbox"])
    """Folders (relative to the workspace) whose new files are ingested on each refresh;
    a file already ingested (same checksum) is skipped. The kind comes from the file name
    (``contacts…``, ``orders…``, ``events…``) or its format."""
    reselect: Literal["drift", "always", "never"] = "drift"
    """When a refresh runs the full model selection again: ``drift`` when the population
    drifted to an alert or a branch's quality fell below ``[alerts]``; ``always``; or
    ``never`` (refit with the previous run's method and k, warm-started from its centres)."""


class StreamConfig(_Section):
    """``audience stream`` (``[stream]``): events from a Redis stream or a Kafka topic."""

    source: str = "redis://127.0.0.1:6379/0"
    """``redis://host:port/db`` or ``kafka://host:port[,host:port]``."""
    stream: str = "audience-events"
    """The Redis stream key, or the Kafka topic."""
    group: str = "audience"
    """The consumer group (Redis) or group.id (Kafka)."""
    batch_size: Annotated[int, Field(ge=1, le=100_000)] = 1_000
    """Messages per micro-batch, at most."""
    block_ms: Annotated[int, Field(ge=1, le=60_000)] = 1_000
    """How long one read waits for messages before a shorter batch is committed."""
    consumer: str = ""
    """This consumer's name in the group (Redis); empty: the machine's host name. Keep it
    the same across restarts: a restarted consumer first takes back its own messages that
    were read but not acknowledged."""
    claim_idle_ms: Annotated[int, Field(ge=1_000)] = 60_000
    """Redis: messages read by another consumer and left unacknowledged this long (it
    died) are claimed and processed here; checked at start and then as often."""


class ServeConfig(_Section):
    """``audience serve`` (``[serve]``): what one request may send and how slowly."""

    max_body_bytes: Annotated[int, Field(ge=1024)] = 8 * 1024 * 1024
    """Largest request body (8 MiB), sent with a length or chunked; more is 413. Batches
    have their own item limits below this."""
    max_header_bytes: Annotated[int, Field(ge=1024)] = 64 * 1024
    """Largest request line and headers together (64 KiB); more is 431."""
    header_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    """From the connection (or a next request's first byte on it) to the end of the
    headers; a client slower than that (headers a byte at a time) gets 408 and is closed."""
    body_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    """From the end of the headers to the end of the body (8 MiB in 30 s is about
    2 Mbit/s); a body that stalls gets 408 and the connection is closed."""
    keep_alive_seconds: Annotated[int, Field(ge=1)] = 5
    """How long an idle connection is kept open for a next request."""


class WorkspaceConfig(_Section):
    """The whole ``audience.toml``."""

    store: StoreConfig = StoreConfig()
    ingest: IngestConfig = IngestConfig()
    features: FeaturesConfig = FeaturesConfig()
    preprocess: PreprocessConfig = PreprocessConfig()
    models: ModelsConfig = ModelsConfig()
    segments: SegmentsConfig = SegmentsConfig()
    drift: DriftConfig = DriftConfig()
    alerts: AlertsConfig = AlertsConfig()
    refresh: RefreshConfig = RefreshConfig()
    stream: StreamConfig = StreamConfig()
    serve: ServeConfig = ServeConfig()


DEFAULT_CONFIG_TOML = """\
# Audience workspace configuration. Every key is optional; the values shown are the defaults.

[store]
# The storage engine. DuckDB, embedded in this folder, is the default.
engine = "duckdb"
# The database file, relative to this folder.
database = "audience.duckdb"
# DuckDB's memory limit. Larger work spills to disk.
memory_limit = "1GB"
# How many seconds a command waits while another one writes the workspace, then gives up.
lock_timeout_seconds = 600.0

[ingest]
# Rows read, validated and staged at a time: bounds memory whatever the file size.
chunk_rows = 200000
# DuckDB's memory limit while ingesting; staging beyond it spills to disk.
memory_limit = "512MB"
# How many hours past the ingest time a timestamp may lie before it counts as "in the future".
future_tolerance_hours = 24.0
# The earliest date a timestamp may have; earlier ones are quarantined (ISO date).
earliest_timestamp = 1990-01-01
# Check plainly valid rows of CSV and Parquet files in DuckDB (fast); the same results as
# false, which checks every row in Python.
engine_checks = true

[features]
# DuckDB's memory limit while computing features.
memory_limit = "3GB"
# Period of the BTYD summary (frequency, recency, T): "day" or "week".
btyd_period = "day"
# A cart with no order within this many hours of its last event is abandoned.
abandon_hours = 24.0
# Engagement tiers: new (signed up < new_days ago), high (clicked within high_days, or opened
# within them with a human open rate >= high_open_rate), medium (opened or clicked within
# medium_days), low (within dormant_days), dormant (not within dormant_days, or never).
new_days = 30
high_days = 30
high_open_rate = 0.3
medium_days = 90
dormant_days = 180

[preprocess]
# How features are prepared for clustering: impute (median; missing categories get their own
# level) with missing indicators, log1p on heavy-tailed counts and money, Yeo-Johnson, scale
# ("standard", "robust" or "minmax"), one-hot (rarest levels grouped beyond the maximum), and
# drop constant columns and one of each pair with |r| above the threshold.
numeric_impute = "median"
categorical_impute = "constant"
add_missing_indicators = true
power_transform = true
scaler = "standard"
one_hot_max_categories = 12
drop_constant = true
correlation_threshold = 0.95
exclude = []

[models]
# "auto" compares the methods below over k_min..k_max and picks by a documented rule: reject
# candidates with a segment under min_segment_share, more noise than max_noise_share, or
# refits that disagree (adjusted Rand index under min_stability); among silhouettes within
# tolerance of the best, take the most segments, up to one past the elbow. Or name one
# method: "kmeans", "gmm", "hierarchical", "dbscan", "hdbscan" or "kprototypes".
method = "auto"
methods = ["kmeans", "gmm"]
k_min = 2
k_max = 12
min_segment_share = 0.01
max_noise_share = 0.2
min_stability = 0.75
tolerance = 0.01
# The sweep fits on a sample of this many contacts; the chosen model then on all of them.
sample_size = 10000
# Preprocessing is fitted on this many contacts, then applied to all.
preprocess_sample = 50000
silhouette_sample = 4000
n_subsamples = 3
random_state = 0
features = [
  "recency_days", "order_count", "revenue_total", "revenue_mean", "days_between_orders_mean",
  "emails_delivered", "opens_human_unique", "clicks_unique", "open_rate_human", "ctr",
  "days_since_last_open", "days_since_last_click", "product_views", "cart_adds",
  "abandoned_carts", "visits_30d", "visits_90d", "tenure_days",
]

[models.kmeans]
n_init = 3
algorithm = "auto"

[models.gmm]
covariance_type = "diag"

[models.hierarchical]
# Exact Ward up to this many contacts; beyond, Ward on n_micro k-means micro-clusters.
exact_max = 10000
n_micro = 1000

[models.dbscan]
# eps unset: the knee of the sorted k-distances.
min_samples = 10

[models.hdbscan]
# min_cluster_size unset: 1% of the contacts fitted.

[models.kprototypes]
categorical = ["top_category", "engagement_tier"]

[segments]
# Segments are a tree: suppressed contacts first, then broad rule segments (first match
# wins), clusters inside each, then the fallback. Rules are SQL conditions over the feature
# columns and the contact columns consent, signup_at and email_domain.
# A cluster under this share of its branch is merged into its nearest neighbour.
min_share = 0.01
# A branch with fewer contacts than this is one segment, not clustered.
min_cluster_contacts = 200
# Where contacts matching no broad rule go (not clustered); "" leaves them without a segment.
fallback = "other"

[segments.suppress]
# reason = rule: matching contacts are suppressed/<reason>, left out of clustering and exports.
unsubscribed = "is_unsubscribed = 1"
bounced = "is_bounced = 1"
complained = "is_complained = 1"
no_consent = "consent IS NULL OR consent <> 'subscribed'"

[[segments.broad]]
id = "customers"
rule = "order_count >= 1"
name = "Customers"
# cluster = true; method = "kmeans"; k = 5   (override [models] inside this segment)

[[segments.broad]]
id = "prospects"
rule = "order_count = 0"
name = "Prospects"

[segments.identity]
# A new run's clusters keep the previous run's ids (and renames) by an optimal one-to-one
# matching inside each branch: on the Jaccard index of their memberships (at least
# min_jaccard), or, when under min_common_share of the contacts are in both runs, on the
# distance between centres (at most max_centroid_distance standard deviations). A split or
# merge is recorded when at least link_min_share of a segment's contacts went another way.
min_jaccard = 0.3
min_common_share = 0.5
max_centroid_distance = 0.5
link_min_share = 0.2

[drift]
# Feature drift against the previous run, for the population and each segment: population
# stability index (watch at psi_watch, alert at psi_alert) over `bins` quantile bins, and the
# two-sample Kolmogorov-Smirnov statistic (alert at ks_alert), on a seeded sample of `sample`
# contactable contacts of each run (0 = all). Segments with fewer than min_contacts contacts
# in either sample are not tested.
psi_watch = 0.1
psi_alert = 0.25
ks_alert = 0.2
bins = 10
min_contacts = 200
sample = 200000

[alerts]
# An alert is stored, logged and sent to the webhooks when drift reaches an alert, a segment's
# size changes by size_change of its previous size, a branch's silhouette falls below
# min_silhouette or its stability below min_stability, or a refresh fails.
size_change = 0.5
min_silhouette = 0.05
min_stability = 0.6
# Each alert is POSTed, signed, to every webhook (see README, "Alerts and webhooks"); an
# attempt may take timeout_seconds, and 429, 5xx, timeouts and connection errors are retried
# up to max_attempts in all.
# [[alerts.webhooks]]
# url = "https://hooks.example.com/audience"
# secret_env = "AUDIENCE_WEBHOOK_SECRET"   # or secret_file = "../secrets/webhook"
# timeout_seconds = 10.0
# max_attempts = 5

[refresh]
# Folders (relative to this one) whose new files `audience refresh` ingests; files already
# ingested (same checksum) are skipped.
drop = ["inbox"]
# When to run the full model selection again: "drift" (the population drifted to an alert,
# or a branch's quality fell below [alerts]), "always", or "never" (refit the previous run's
# method and k, warm-started from its centres).
reselect = "drift"

[stream]
# `audience stream`: "redis://host:port/db" or "kafka://host:port".
source = "redis://127.0.0.1:6379/0"
stream = "audience-events"
group = "audience"
batch_size = 1000
block_ms = 1000
# This consumer's name in the group; "" means the host name. Keep it across restarts.
consumer = ""
# Redis: take over messages another consumer left unacknowledged this long.
claim_idle_ms = 60000

[serve]
# `audience serve`: a body over max_body_bytes is 413, headers over max_header_bytes 431;
# headers not ended header_timeout_seconds after the connection (or the request's first
# byte), or a body not ended body_timeout_seconds after its headers, get 408 and the
# connection is closed. Idle connections are kept keep_alive_seconds.
max_body_bytes = 8388608
max_header_bytes = 65536
header_timeout_seconds = 10.0
body_timeout_seconds = 30.0
keep_alive_seconds = 5
"""


def parse_config(data: dict[str, Any], source: str = CONFIG_FILE) -> WorkspaceConfig:
    """Validate a config mapping; raise :class:`ConfigError` naming every bad key."""
    try:
        return WorkspaceConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigError(f"{source} is not valid: {problems}.") from None


def load_config(path: Path) -> WorkspaceConfig:
    """Read and validate ``audience.toml``; a missing file means all defaults."""
    if not path.exists():
        return WorkspaceConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}. Fix the syntax and retry.") from None
    return parse_config(data, source=str(path))


def _describe(error: Any) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
    given = error.get("input")
    if error["type"] == "extra_forbidden":
        return f"unknown key '{key}' (check the spelling; see the keys documented in audience.toml)"
    return f"key '{key}' {error['msg'].lower()}, got {given!r}"
