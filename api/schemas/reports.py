"""The periodic complaint and service report (S9.3, S4.4, S4.6, S5.2, S5.3).

Counts are integers (0 for nothing). Means, percentiles and rates are `null` when there
is nothing to average or divide by (an empty period), never a made-up 0. Rates are
fractions 0–1; durations are wall-clock minutes. Customers appear by id only.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class PeriodOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    first: date = Field(alias="from", description="first day, inclusive")
    last: date = Field(alias="to", description="last day, inclusive")
    days: int
    timezone: str = Field(description="the days are local days in this timezone")


class Bucket(BaseModel):
    key: str | None = Field(description="null: not given on the ticket")
    count: int


class DayCount(BaseModel):
    day: date
    count: int


class Volume(BaseModel):
    """Tickets created in the period."""

    total: int
    by_kind: dict[str, int]
    by_category: list[Bucket]
    by_product_model: list[Bucket]
    by_channel: dict[str, int]
    by_priority: dict[str, int] = Field(description="current priority, 1 (highest) … 4")
    safety: int = Field(description="safety-related reports (S4.6 risk)")
    by_day: list[DayCount] = Field(description="trend: every day of the period")


class TargetVsActual(BaseModel):
    """A configured quality target beside the figure reached (S5.2)."""

    target: float
    actual: float | None
    met: bool | None = Field(description="null when there is no actual figure")


class SlaFigures(BaseModel):
    due: int = Field(description="tickets with this target due in the period")
    met: int
    breached: int
    pending: int = Field(description="neither met nor breached yet (running, or cancelled)")
    compliance: float | None = Field(description="met / (met + breached)")


class SlaReport(BaseModel):
    targets: dict[str, SlaFigures] = Field(description="acknowledge, first_response, resolve")
    overall: SlaFigures
    compliance_target: TargetVsActual


class Distribution(BaseModel):
    count: int
    mean: float | None
    p50: float | None
    p90: float | None


class ResponseTimes(BaseModel):
    """Wall-clock minutes from creation, over the tickets created in the period (S4.4)."""

    first_response: Distribution
    resolution: Distribution


class StateTime(BaseModel):
    tickets: int = Field(description="tickets that spent time in this status")
    mean_minutes: float = Field(description="mean total minutes per such ticket")


class CategoryStates(BaseModel):
    category: str | None
    states: dict[str, StateTime]


class TimeInState(BaseModel):
    """Where time goes (S5.3), from the status events; only completed stays count."""

    overall: dict[str, StateTime]
    by_kind: dict[str, dict[str, StateTime]]
    by_category: list[CategoryStates]


class CsatReport(BaseModel):
    """Ratings of the tickets created in the period (S4.6)."""

    count: int
    mean: float | None
    distribution: dict[str, int] = Field(description="ratings 1 … 5")
    satisfied: int = Field(description="ratings of 4 or 5")
    satisfied_rate: float | None
    target: TargetVsActual = Field(description="mean rating against CSAT_TARGET (S5.2)")


class RepeatComplainant(BaseModel):
    customer_id: int
    complaints: int


class RepeatComplainants(BaseModel):
    count: int
    customers: list[RepeatComplainant]


class EffectReport(BaseModel):
    """Effect of the service (S4.6), from the workflow events of the period's tickets."""

    tickets: int
    resolved: int = Field(description="tickets resolved at least once")
    reopened: int
    reopen_rate: float | None = Field(description="reopened / resolved")
    escalated: int
    escalation_rate: float | None = Field(description="escalated / tickets")
    repeat_complainants: RepeatComplainants = Field(description="≥ 2 complaints in the period")
    customers: int
    repeat_contact_customers: int = Field(description="customers with ≥ 2 tickets")
    repeat_contact_rate: float | None = Field(description="repeat-contact customers / customers")


class HandoffReport(BaseModel):
    """Bot ↔ agent handoffs (S4.4)."""

    conversations: int = Field(description="opened, messaged or handed off in the period")
    handed_off: int = Field(description="queued for an agent in the period")
    handoff_rate: float | None
    bot_containment_rate: float | None = Field(description="1 − handed off / conversations")
    claimed: int = Field(description="waits in the period that ended with an agent taking over")
    abandoned: int = Field(description="waits that ended back with the bot, unclaimed")
    mean_wait_minutes: float | None = Field(description="mean wait before an agent took over")


class CostRates(BaseModel):
    agent_hour: float
    conversation: float
    field_visit: float


class CostReport(BaseModel):
    """What the period's service cost under the configured cost model (S4.4): agents' time
    holding conversations, every conversation, and every technician's visit (a service
    order started), divided by the tickets created in the period."""

    currency: str
    rates: CostRates = Field(description="COST_PER_AGENT_HOUR, _CONVERSATION, _FIELD_VISIT")
    agent_minutes: float = Field(description="claims of the period that have ended")
    conversations: int
    field_visits: int
    agent_cost: float
    conversation_cost: float
    field_visit_cost: float
    total: float
    per_ticket: float | None = Field(description="total / tickets created in the period")


class StaffCount(BaseModel):
    staff_id: int
    complaints: int


class ComplaintSummary(BaseModel):
    """Complaints only (S9.3)."""

    total: int
    open: int
    closed: int = Field(description="no longer open: resolved, closed or cancelled")
    by_status: dict[str, int]
    by_category: list[Bucket]
    by_product_model: list[Bucket]
    top_product_models: list[Bucket] = Field(description="the five most complained-about")
    about_staff: int = Field(description="complaints naming a staff member (S10.2)")
    about_staff_by_member: list[StaffCount]
    by_day: list[DayCount]


class QaCriterionFigures(BaseModel):
    mean_points: float | None = Field(description="0 not met … 2 met")
    not_met: int = Field(description="reviews scoring it 0")
    partly_met: int = Field(description="reviews scoring it 1")


class QaAgentFigures(BaseModel):
    agent_id: int | None = Field(description="who handled the tickets; null: nobody on staff")
    reviewed: int
    failed: int
    pass_rate: float | None


class QaRectificationFigures(BaseModel):
    """Rectifications opened in the period, as they stand now."""

    opened: int
    open: int
    done: int
    overdue: int = Field(description="open past their due time")


class QaSummary(BaseModel):
    """QA sampling of delivered tickets (S8.2): the samples drawn in the period, the reviews
    scored in it, and the rectifications those failures opened."""

    samples: int = Field(description="samples drawn in the period")
    sampled: int = Field(description="tickets in those samples")
    pending: int = Field(description="tickets of those samples not scored yet")
    reviewed: int = Field(description="reviews scored in the period")
    passed: int
    failed: int
    pass_rate: float | None
    pass_threshold: float = Field(description="QA_PASS_THRESHOLD now")
    by_criterion: dict[str, QaCriterionFigures] = Field(description="the checklist's criteria")
    by_agent: list[QaAgentFigures] = Field(description="the most failures first")
    rectifications: QaRectificationFigures


class QaReport(QaSummary):
    model_config = ConfigDict(populate_by_name=True)

    period: PeriodOut
    generated_at: datetime


class ComplaintReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    period: PeriodOut
    generated_at: datetime
    volume: Volume
    sla: SlaReport
    response_times: ResponseTimes
    time_in_state: TimeInState
    csat: CsatReport
    effect: EffectReport
    handoffs: HandoffReport
    cost: CostReport
    complaints: ComplaintSummary
    qa: QaSummary
