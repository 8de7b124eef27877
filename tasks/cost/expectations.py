"""What a FOCUS export must hold before the cost review trusts it (Great Expectations rules).

Blocking (the export is left out of the review, which then says "insufficient data" rather
than print a wrong number): a required column missing, costs or periods of the wrong type or
unparseable, more than one currency after conversion. Flagging (the review goes on and shows
the finding): negative costs on rows that are not credits or refunds, charge periods outside
their billing period. Credits and refunds themselves are counted, not failed.
"""

from __future__ import annotations

import great_expectations.expectations as gxe
import pandas as pd
from great_expectations.expectations.row_conditions import Column

from opsbook.tasks.cost.gate import GateReport, Rule, run_gate

# The FOCUS 1.0 columns the review reads, and the kind of value each must hold.
REQUIRED_COLUMNS = {
    "BilledCost": "number",
    "EffectiveCost": "number",
    "BillingCurrency": "text",
    "BillingPeriodStart": "time",
    "BillingPeriodEnd": "time",
    "ChargePeriodStart": "time",
    "ChargePeriodEnd": "time",
    "ChargeCategory": "text",
    "ProviderName": "text",
    "ServiceName": "text",
}
CHARGE_CATEGORIES = ["Usage", "Purchase", "Tax", "Credit", "Adjustment"]
# Rows allowed to carry negative costs: credits, and refunds (FOCUS marks those ChargeClass=Correction).
_TYPES = {"number": ["float64", "int64", "float32", "int32"], "time": ["datetime64[ns]", "datetime64[us]"]}


def _not_a_refund():  # a null ChargeClass is "not Correction", as in pandas
    return (Column("ChargeCategory") != "Credit") & (Column("ChargeClass") != "Correction")


def focus_rules(currency: str) -> list[Rule]:
    """Fresh rules for one export (GE expectations are mutable; never share them between runs)."""
    rules: list[Rule] = []
    for column in REQUIRED_COLUMNS:
        rules.append(Rule(gxe.ExpectColumnToExist(column=column), f"required column {column} is missing"))
    for column, kind in REQUIRED_COLUMNS.items():
        if kind in _TYPES:
            rules.append(
                Rule(
                    gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=_TYPES[kind]),
                    f"{column} is not a {kind}",
                    (column,),
                )
            )
        rules.append(
            Rule(
                gxe.ExpectColumnValuesToNotBeNull(column=column), f"{column} is empty or not a valid {kind}", (column,)
            )
        )
    rules += [
        Rule(
            gxe.ExpectColumnValuesToBeInSet(column="ChargeCategory", value_set=CHARGE_CATEGORIES),
            f"ChargeCategory has values outside {', '.join(CHARGE_CATEGORIES)}",
            ("ChargeCategory",),
        ),
        Rule(
            gxe.ExpectColumnValuesToBeInSet(column="BillingCurrency", value_set=[currency]),
            f"BillingCurrency is not {currency} and no exchange rate converts it",
            ("BillingCurrency",),
        ),
    ]
    for cost in ("BilledCost", "EffectiveCost"):
        rules.append(
            Rule(
                gxe.ExpectColumnValuesToBeBetween(column=cost, min_value=0, row_condition=_not_a_refund()),
                f"{cost} is negative on rows that are not credits or refunds",
                (cost, "ChargeCategory", "ChargeClass"),
                blocking=False,
            )
        )
    rules += [
        Rule(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="ChargePeriodStart", column_B="BillingPeriodStart", or_equal=True
            ),
            "ChargePeriodStart is before its BillingPeriodStart",
            ("ChargePeriodStart", "BillingPeriodStart"),
            blocking=False,
        ),
        Rule(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="BillingPeriodEnd", column_B="ChargePeriodEnd", or_equal=True
            ),
            "ChargePeriodEnd is after its BillingPeriodEnd",
            ("ChargePeriodEnd", "BillingPeriodEnd"),
            blocking=False,
        ),
        Rule(
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="ChargePeriodEnd", column_B="ChargePeriodStart", or_equal=True
            ),
            "ChargePeriodEnd is before ChargePeriodStart",
            ("ChargePeriodEnd", "ChargePeriodStart"),
            blocking=False,
        ),
    ]
    return rules


def gate_export(name: str, frame: pd.DataFrame, currency: str) -> GateReport:
    """Run the FOCUS rules on one (normalised, converted) export."""
    if "ChargeClass" not in frame.columns:  # optional in practice; the refund rule reads it
        frame = frame.assign(ChargeClass=None)
    # GE's pandas type check does not recognise zone-aware datetimes: show it naive UTC times.
    zoned = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    frame = frame.assign(**{c: frame[c].dt.tz_convert("UTC").dt.tz_localize(None) for c in zoned})
    return run_gate(name, frame, focus_rules(currency))


def credits_and_refunds(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows allowed to be negative, so the review can flag them (they are real money back)."""
    if not {"ChargeCategory"} <= set(frame.columns):
        return frame.iloc[0:0]
    charge_class = frame["ChargeClass"] if "ChargeClass" in frame else pd.Series(None, index=frame.index)
    return frame[(frame["ChargeCategory"] == "Credit") | (charge_class == "Correction")]
