"""Timeline payloads decoded by msgspec give exactly what temporalio's converter gives."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, PayloadCodec

from app.domain.approval_inputs import ApprovalField
from app.domain.approvals import ApprovalRequest, Decision
from app.domain.policies import PolicyCheck
from app.executions import timeline_codec
from app.executions.timeline_codec import decode_timeline
from app.temporal.contracts import (
    ApprovalView,
    FieldChange,
    ImpactWarning,
    OperationPreview,
    StepState,
    Timeline,
)


def rich_timeline() -> Timeline:
    """A timeline using every nested type the page reads: approval with inputs, preview,
    decisions, policy checks, results of any JSON shape, parallel groups."""
    request = ApprovalRequest(
        step_id="grant", confirmations=["I checked"], typed_phrase="GRANT", required_approvals=2,
        approvers_group="admins", four_eyes=True, started_by="bob",
        inputs=[ApprovalField(name="limit", type="number", label="Limit", default=5.5, min=1,
                              max=10, choices=["a"], help="h")],
    )  # fmt: skip
    waiting = StepState(
        id="grant", name="Grant", action="grant_access", impact="critical", mode="validation",
        status="waiting_approval", started_at="2026-11-30T09:00:00+00:00",
        preview=OperationPreview(
            operation="update", target="crm.contacts", environment="production", summary="s",
            fields=[FieldChange(name="limit", new=7, old=None, proposed={"x": [1, 2.5]})],
            impact=[ImpactWarning(severity="critical", message="m")],
        ),
        approval=ApprovalView.asking(request, "2026-11-30T09:00:01+00:00", ""),
        decisions=[Decision(step_id="grant", user_id="carol", action="approved",
                            roles=["approver"], groups=None, inputs={"limit": 3})],
        policy_checks=[PolicyCheck(rule="r", field="amount", value=9000.5, limit="<= 10000",
                                   passed=True)],
        ignored_signals=["late"], notices=["slack down"],
    )  # fmt: skip
    done = StepState(
        id="check", name="Check", action="bench_work", impact="accessory", mode="automatic",
        status="completed", duration_ms=5000, summary="ok",
        result={"n": 1, "f": 1.5, "nested": {"l": [None, True, "s"]}},
    )  # fmt: skip
    return Timeline(
        "x-1", "x", "X", "hash", "running", "bob", "2026-11-30T09:00:00+00:00", "", "", 7,
        [done, waiting], groups=[["check", "grant"]],
    )  # fmt: skip


async def test_msgspec_decodes_a_rich_timeline_as_temporalios_converter_does() -> None:
    converter = DataConverter.default
    timeline = rich_timeline()
    [payload] = await converter.encode([timeline])
    [expected] = await converter.decode([payload], [Timeline])
    decoded = await decode_timeline(payload, converter)
    assert decoded == expected == timeline
    assert type(decoded.steps[1].approval) is ApprovalView
    assert type(decoded.steps[1].decisions[0]) is Decision
    assert type(decoded.steps[1].policy_checks[0]) is PolicyCheck
    assert dataclasses.asdict(decoded) == dataclasses.asdict(expected)


class Reversing(PayloadCodec):
    """A codec that changes the bytes: msgspec must not read them."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [Payload(metadata=dict(p.metadata), data=p.data[::-1]) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return await self.encode(payloads)


async def test_a_payload_codec_or_a_refused_payload_goes_through_temporalios_converter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timeline = rich_timeline()
    with_codec = dataclasses.replace(DataConverter.default, payload_codec=Reversing())
    [encoded] = await with_codec.encode([timeline])
    assert await decode_timeline(encoded, with_codec) == timeline

    [plain] = await DataConverter.default.encode([timeline])
    calls = []

    def refusing(*args: object, **kwargs: object) -> object:
        calls.append(args)
        raise timeline_codec.msgspec.ValidationError("refused")

    monkeypatch.setattr(timeline_codec.msgspec.json, "decode", refusing)
    assert await decode_timeline(plain, DataConverter.default) == timeline
    assert calls  # msgspec was asked first, and its refusal fell back
