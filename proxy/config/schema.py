"""The configuration schema: one frozen struct per section, unknown keys rejected.

Defaults here are the documented defaults (``config/vernier.yaml`` repeats them with comments);
each traces to docs/reliability.md §6 or a measurement. Durations carry their unit in the name.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from proxy.messages import field_error


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class ServerConfig(_Section, frozen=True):
    """The public listener: limits that protect the proxy from its clients."""

    listen: str = "127.0.0.1:8080"
    workers: int = 1
    header_timeout_s: float = 10.0  # slowloris: aiohttp has no header-read deadline of its own
    keepalive_s: float = 75.0  # nginx default; aiohttp's is 3630 s
    body_idle_timeout_s: float = 30.0
    shutdown_timeout_s: float = 15.0
    max_line_bytes: int = 8190
    max_field_bytes: int = 8190
    max_headers: int = 128
    # peers whose X-Forwarded-* we extend instead of overwrite (exact IPs or CIDRs)
    trusted_proxies: tuple[str, ...] = ()
    # a per-deployment pseudonym for Via; a request that already carries it is a routing loop
    via_name: str = "vernier"
    # one JSON line per request on the "aiohttp.access" logger (at log_level info)
    access_log: bool = True


class OriginConfig(_Section, frozen=True):
    """The site Vernier fronts. ``url`` is scheme://host[:port] with no path."""

    url: str = ""
    # the address visitors use, e.g. https://shop.example; used for redirects, cookies and CSP.
    # When unset, Location headers pointing at the origin become relative.
    public_url: str | None = None
    preserve_host: bool = False
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 30.0
    pool_size: int = 100
    pool_keepalive_s: float = 15.0
    max_header_bytes: int = 65536  # origins send 9+ KB CSP and Set-Cookie headers


class HtmlConfig(_Section, frozen=True):
    """Limits for pages Vernier reads and changes; beyond them the page streams through."""

    max_rewrite_bytes: int = 5 * 1024 * 1024  # rules apply to pages up to this size
    budget_ms: float = 50.0
    # pages and their rewrites kept per worker, so that a repeat page is not rewritten again
    # (proxy/html/rewrite_cache.py); 0 turns the cache off
    rewrite_cache_bytes: Annotated[int, msgspec.Meta(ge=0)] = 32 * 1024 * 1024
    # pages no rule or slot may change, and every page over max_rewrite_bytes, are injected as
    # they stream (the tag goes in once the head has passed) rather than read whole
    stream_inject_over_bytes: int = 256 * 1024
    inject_tracker: bool = True
    inject_xhtml: bool = False


class CompressionConfig(_Section, frozen=True):
    """Compressing what the origin sent uncompressed (``proxy/content/compress.py``). Levels are
    chosen by ``bench/compression_bench.py`` (docs/benchmarks.md, "Compression"): zstd 3 saves
    about what gzip 6 does for a sixth of its CPU; brotli 4 and gzip 4 keep 95 % of their
    coding's saving at about 60 % of gzip 6's CPU."""

    enabled: bool = True
    min_bytes: Annotated[int, msgspec.Meta(ge=0)] = 1024  # below this a packet holds it anyway
    codings: tuple[Literal["zstd", "br", "gzip"], ...] = ("zstd", "br", "gzip")  # preference
    zstd_level: Annotated[int, msgspec.Meta(ge=1, le=12)] = 3  # ≤ 12: RFC 9659's 8 MB window
    br_level: Annotated[int, msgspec.Meta(ge=0, le=11)] = 4
    gzip_level: Annotated[int, msgspec.Meta(ge=1, le=9)] = 4


class StoreConfig(_Section, frozen=True):
    """The Redis-protocol store; no URL means the embedded Valkey server in ``data_dir``."""

    url: str | None = None
    op_timeout_ms: float = 50.0
    connect_timeout_ms: float = 100.0
    max_connections: int = 64
    key_prefix: str = "vernier:"
    breaker_failures: int = 5
    breaker_window_s: float = 10.0
    breaker_open_s: float = 5.0


class SessionConfig(_Section, frozen=True):
    """First-party identifiers and the privacy signals that suppress them."""

    cookie_name: str = "vernier_sid"
    visitor_cookie_name: str = "vernier_vid"
    consent_cookie_name: str = "vernier_consent"
    idle_timeout_s: int = 1800
    visitor_max_age_s: int = 365 * 24 * 3600
    # "implied": ids are issued on first page view; "required": none until vernier.consent(true)
    consent: Literal["implied", "required"] = "implied"
    honor_gpc: bool = True
    honor_dnt: bool = True


class ContextConfig(_Section, frozen=True):
    """What rule conditions may read about a request beyond its headers and the profile."""

    time_zone: str = "UTC"  # for `hour` and `weekday`
    geo_header: str | None = (
        None  # a trusted header with an ISO country[-region] (e.g. CF-IPCountry)
    )
    # a trusted header with the visitor's IANA time zone, set by the edge from its geo lookup:
    # the clock of a page view before the tracker has reported the browser's own zone
    time_zone_header: str | None = None
    extra_headers: tuple[str, ...] = ()  # headers readable as header.<name> beyond the safe list


class IntakeConfig(_Section, frozen=True):
    """Flood guards of the event intake (``POST /__vernier/e``): token buckets per worker, one
    token per event, a minute's worth as the burst (docs/reliability.md EV-08 and §6's defaults)."""

    session_events_per_min: int = 120
    address_events_per_min: int = 1_200


class OverloadConfig(_Section, frozen=True):
    """When a worker sheds optional work to keep serving pages (``proxy/govern/overload.py``):
    event-loop lag or requests in flight, the worst over ``window_s``, past a threshold."""

    shed_changes_lag_ms: float = 250.0  # past it: no rewriting or decisions (origin bytes + tag)
    shed_tag_lag_ms: float = 1000.0  # past it: no tag either (the origin's bytes unchanged)
    shed_changes_in_flight: int = 256
    shed_tag_in_flight: int = 1024
    sample_ms: float = 50.0
    window_s: float = 1.0  # recovery: a window without pressure and nothing is shed


class RetentionConfig(_Section, frozen=True):
    """How long the store keeps raw events, decisions and event-id dedupe keys (the store's memory
    is about rate x these; docs/benchmarks.md has the capacity table). Sized for the embedded
    store: consumers read the streams within seconds, reward windows default to 10 minutes."""

    events_max_age_s: int = 2 * 3600
    decisions_max_age_s: int = 2 * 3600
    dedupe_s: int = 2 * 3600  # a tracker retry after this is counted twice
    # entries a consumer group (learner, profiles, results) has not read or acknowledged are kept
    # up to this age, so a consumer that was down loses nothing; then trimmed with a warning
    unread_max_age_s: int = 24 * 3600
    trim_every_s: float = 60.0


class LearnerConfig(_Section, frozen=True):
    """The learner's reward join (``proxy/bandit/join.py``). A decision waits there, and in every
    checkpoint, until its slot's reward window has passed (an unseen one 2 minutes more, for an
    impression replayed from a spool after an outage); at most ``max_pending_decisions`` wait
    (~0.6 KB each in a checkpoint, ~2.6 KB in memory: docs/benchmarks.md, "Capacity"). Past
    the bound an unseen decision in those 2 minutes is dropped first (counted ``unseen``), then
    the oldest waiting decision, never learned from (joining it as a no-reward example would
    teach the model that its variant failed when its reward may simply not have come yet), and
    counted: ``vernier_background_total{worker="learner",counter="evicted"}``. Size it to
    decisions/s x (the longest reward window + 2 minutes), with room for an outage's backlog."""

    max_pending_decisions: Annotated[int, msgspec.Meta(ge=1_000, le=10_000_000)] = 100_000


class AdminConfig(_Section, frozen=True):
    """The loopback-only admin listener (metrics, admin API); disabled when ``listen`` is empty."""

    listen: str = "127.0.0.1:9901"
    expose_metrics_publicly: bool = False
    # Bearer token for the admin API and for the X-Vernier-Debug request header on public
    # requests; none: both are off. Prefer the VERNIER_ADMIN_TOKEN environment variable.
    token: Annotated[str, msgspec.Meta(min_length=16, max_length=256)] | None = None


class ResultsConfig(_Section, frozen=True):
    """The durable per-variant aggregates ``vernier report`` reads (docs/report-format.md)."""

    retention_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 90
    # the most recent joined examples kept per slot for the report's doubly robust estimates
    # (``proxy/store/joined_examples.py``); the report reads at most this many per slot. 500
    # keeps a 90-day report of 20 bandit slots within 1 s (docs/benchmarks.md)
    examples_kept: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 500


HalfLifeDays = Annotated[float, msgspec.Meta(gt=0, le=3650)]
ScoreWeight = Annotated[float, msgspec.Meta(ge=0, le=1000)]


class ScoresConfig(_Section, frozen=True):
    """Weighted scores kept in the profile (``proxy/tracker/scores.py``): recency, frequency and
    monetary value, each decaying with its half-life, combined into ``score:rfm`` by the weights;
    and per page type interest (``interest:<type>``), a decaying share of views and engaged time.
    ``frequency_scale`` visits (``monetary_scale`` of value) score 0.5: x / (x + scale)."""

    recency_half_life_days: HalfLifeDays = 30.0
    frequency_half_life_days: HalfLifeDays = 14.0
    monetary_half_life_days: HalfLifeDays = 30.0
    interest_half_life_days: HalfLifeDays = 7.0
    frequency_scale: Annotated[float, msgspec.Meta(gt=0, le=1e6)] = 3.0
    monetary_scale: Annotated[float, msgspec.Meta(gt=0, le=1e12)] = 100.0
    recency_weight: ScoreWeight = 1.0
    frequency_weight: ScoreWeight = 1.0
    monetary_weight: ScoreWeight = 1.0

    def __post_init__(self) -> None:
        if self.recency_weight + self.frequency_weight + self.monetary_weight <= 0:
            raise field_error("", "at least one of the rfm weights must be above 0")


class SegmentsConfig(_Section, frozen=True):
    """Learned segments (``proxy/segments/fit.py``): how ``vernier segments fit`` and the learner
    (every ``refit_every_s``; 0: never) cluster visitor profiles. k is chosen in
    ``[k_min, k_max]`` by silhouette; ``method`` dbscan/hdbscan cluster a sample instead."""

    k_min: Annotated[int, msgspec.Meta(ge=2, le=64)] = 2
    k_max: Annotated[int, msgspec.Meta(ge=2, le=64)] = 8
    method: Literal["kmeans", "dbscan", "hdbscan"] = "kmeans"
    min_visitors: Annotated[int, msgspec.Meta(ge=10, le=10_000_000)] = 200
    max_visitors: Annotated[int, msgspec.Meta(ge=10, le=10_000_000)] = 200_000
    refit_every_s: Annotated[float, msgspec.Meta(ge=0, le=7 * 24 * 3600)] = 3600.0

    def __post_init__(self) -> None:
        if self.k_min > self.k_max:
            raise field_error("k_min", "must not be above k_max")
        if self.min_visitors > self.max_visitors:
            raise field_error("min_visitors", "must not be above max_visitors")


class Config(_Section, frozen=True):
    """Everything ``vernier serve`` needs. Paths are resolved against the config file's folder."""

    origin: OriginConfig = OriginConfig()
    server: ServerConfig = ServerConfig()
    html: HtmlConfig = HtmlConfig()
    compression: CompressionConfig = CompressionConfig()
    store: StoreConfig = StoreConfig()
    session: SessionConfig = SessionConfig()
    context: ContextConfig = ContextConfig()
    intake: IntakeConfig = IntakeConfig()
    overload: OverloadConfig = OverloadConfig()
    retention: RetentionConfig = RetentionConfig()
    learner: LearnerConfig = LearnerConfig()
    admin: AdminConfig = AdminConfig()
    results: ResultsConfig = ResultsConfig()
    scores: ScoresConfig = ScoresConfig()
    segments: SegmentsConfig = SegmentsConfig()
    rules: str = "rules"
    data_dir: str = "data"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
