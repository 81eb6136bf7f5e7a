"""An OpenFeature provider over :class:`Client` (the ``openfeature`` extra of ``experimently-sdk``).

Values resolve locally with the engine's reasons (already OpenFeature's vocabulary), the variation as
``variant``, engine error codes mapped to OpenFeature's, and flag metadata (``rule_id``,
``experiment_key``, ``experiment_variant``, ``ruleset_version`` when known). A new ruleset emits
``PROVIDER_CONFIGURATION_CHANGED`` with the changed keys; the first one emits ``PROVIDER_READY`` when
``initialize`` had to give up waiting. ``track`` goes to the client's event queue.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, cast

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, ProviderNotReadyError
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata
from openfeature.track import TrackingEventDetails

from .client import ChangeEvent, Client

log = logging.getLogger("experimently_sdk")

T = TypeVar("T")
_ERRORS = {code.value: code for code in ErrorCode}


class ExperimentlyProvider(AbstractProvider):
    def __init__(
        self,
        client: Client | None = None,
        *,
        sdk_key: str | None = None,
        base_url: str = "http://127.0.0.1:8000",
        init_timeout: float = 5.0,
        **options: Any,
    ) -> None:
        super().__init__()
        self.init_timeout = init_timeout
        self.client = (
            client if client is not None else Client(sdk_key or "", base_url, init_timeout=0, **options)
        )
        self._announced = False
        self.client.on_change(self._changed)

    def get_metadata(self) -> Metadata:
        return Metadata(name="experimently")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        if not self.client.wait_for_initialization(self.init_timeout):
            raise ProviderNotReadyError("no ruleset yet (server unreachable and no bootstrap)")
        self._announced = True

    def shutdown(self) -> None:
        self.client.close()

    def _changed(self, change: ChangeEvent) -> None:
        if not hasattr(self, "_on_emit"):
            return  # not attached to OpenFeature (yet)
        if not self._announced:
            self._announced = True
            self.emit_provider_ready(ProviderEventDetails(message="ruleset received"))
            return
        details = ProviderEventDetails(
            flags_changed=sorted(change.keys), metadata={"version": change.version}
        )
        self.emit_provider_configuration_changed(details)

    def track(
        self,
        tracking_event_name: str,
        evaluation_context: EvaluationContext | None = None,
        tracking_event_details: TrackingEventDetails | None = None,
    ) -> None:
        unit = evaluation_context.targeting_key if evaluation_context is not None else None
        if unit is None:
            log.warning("experimently: track(%r) without a targeting key is not sent", tracking_event_name)
            return
        value = tracking_event_details.value if tracking_event_details is not None else None
        attributes = dict(tracking_event_details.attributes) if tracking_event_details is not None else None
        self.client.track(tracking_event_name, unit, value, attributes or None)

    def _resolve(
        self, flag_key: str, default: T, context: EvaluationContext | None, kinds: tuple[type, ...]
    ) -> FlagResolutionDetails[T]:
        attributes: Mapping[str, Any] = context.attributes if context is not None else {}
        unit = context.targeting_key if context is not None else None
        engine_default = (
            None if isinstance(default, Mapping | Sequence) and not isinstance(default, str) else default
        )
        detail = self.client.variation_detail(flag_key, unit, attributes, engine_default)
        metadata: dict[str, bool | int | float | str] = {}
        for name in ("rule_id", "experiment_key", "experiment_variant"):
            if (found := getattr(detail, name)) is not None:
                metadata[name] = found
        if self.client.version is not None:
            metadata["ruleset_version"] = self.client.version
        if detail.error_code is not None:
            return FlagResolutionDetails(
                default,
                error_code=_ERRORS.get(detail.error_code, ErrorCode.GENERAL),
                error_message=f"{flag_key}: {detail.error_code}",
                reason=Reason.ERROR,
                flag_metadata=metadata,
            )
        value: Any = detail.value
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            return FlagResolutionDetails(
                default,
                error_code=ErrorCode.TYPE_MISMATCH,
                error_message=f"{flag_key} is {type(value).__name__}",
                reason=Reason.ERROR,
                flag_metadata=metadata,
            )
        if float in kinds and not isinstance(value, float):
            value = float(cast(float, value))
        return FlagResolutionDetails(
            cast(T, value), reason=Reason(detail.reason), variant=detail.variation, flag_metadata=metadata
        )

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, default_value, evaluation_context, (bool,))

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, default_value, evaluation_context, (str,))

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, default_value, evaluation_context, (int,))

    def resolve_float_details(
        self, flag_key: str, default_value: float, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, default_value, evaluation_context, (float, int))

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Any,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Any]:
        return self._resolve(flag_key, default_value, evaluation_context, (dict, list))
