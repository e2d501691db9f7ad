"""A published model of learned segments, and its checksummed codec.

The learner (or ``vernier segments fit``) writes it, the store carries it, every proxy decodes it
and assigns visitors by nearest centroid: it lives here so that none of those packages imports
another to share it. :func:`decode_model` refuses anything inconsistent (checksum, shapes,
non-finite numbers, duplicate labels), so a corrupt model can never reach the request path.
"""

from __future__ import annotations

import hashlib
import math

import msgspec


class SegmentModelRefused(ValueError):
    """The bytes are not a usable segment model; the last good one stays."""


class SegmentModel(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Centroids in standardised space: ``z = (x - mean) / scale`` per feature.

    ``labels[i]`` names centroid ``i`` and stays with the same group of visitors across refits;
    ``next_label`` numbers the next new one. ``descriptions[i]`` says what sets cluster ``i``
    apart, ``sizes[i]`` how many of the fitted visitors it held.
    """

    version: int
    created_ms: int
    method: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    labels: tuple[str, ...]
    centroids: tuple[tuple[float, ...], ...]
    sizes: tuple[int, ...]
    descriptions: tuple[str, ...]
    visitors: int
    next_label: int
    silhouette: float | None = None


class _Envelope(msgspec.Struct, frozen=True):
    sha256: str
    model: msgspec.Raw


_encoder = msgspec.json.Encoder()
_envelope = msgspec.json.Decoder(_Envelope)
_model = msgspec.json.Decoder(SegmentModel)


def encode_model(model: SegmentModel) -> bytes:
    body = _encoder.encode(model)
    digest = hashlib.sha256(body).hexdigest()
    return b'{"sha256":"' + digest.encode() + b'","model":' + body + b"}"


def decode_model(data: bytes) -> SegmentModel:
    """The model in ``data``; :class:`SegmentModelRefused` saying why it is not usable."""
    try:
        envelope = _envelope.decode(data)
        body = bytes(envelope.model)
        if hashlib.sha256(body).hexdigest() != envelope.sha256:
            raise SegmentModelRefused("checksum mismatch")
        model = _model.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as err:
        raise SegmentModelRefused(f"malformed: {err}") from None
    check_model(model)
    return model


def check_model(model: SegmentModel) -> None:
    """Raise :class:`SegmentModelRefused` unless every part agrees with every other."""
    d, k = len(model.features), len(model.centroids)
    if d == 0 or k == 0:
        raise SegmentModelRefused("no features or no centroids")
    if len(model.mean) != d or len(model.scale) != d:
        raise SegmentModelRefused("mean and scale need one value per feature")
    if any(len(c) != d for c in model.centroids):
        raise SegmentModelRefused("every centroid needs one value per feature")
    if not (len(model.labels) == len(model.sizes) == len(model.descriptions) == k):
        raise SegmentModelRefused("labels, sizes and descriptions need one entry per centroid")
    if len(set(model.labels)) != k:
        raise SegmentModelRefused("labels must be unique")
    numbers = [*model.mean, *model.scale, *(x for c in model.centroids for x in c)]
    if not all(math.isfinite(x) for x in numbers) or any(s <= 0 for s in model.scale):
        raise SegmentModelRefused("non-finite numbers, or a scale not above 0")
