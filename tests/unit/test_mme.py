"""MME/day of one dispensation: the CDC examples and what is never counted."""

from services.query.mme import mme_per_day

OXYCODONE = {"drug_class": "opioid", "drug": "Oxycodone SA", "strength_per_unit": "10",
             "mme_factor": "1.5", "form": "Tablet"}  # fmt: skip
FENTANYL_PATCH = {"drug_class": "opioid", "drug": "Fentanyl LA", "strength_per_unit": "25",
                  "mme_factor": "7.2", "form": "Patch, Extended Release"}  # fmt: skip


def test_the_cdc_oxycodone_example() -> None:
    assert mme_per_day(OXYCODONE, "120", 30) == 60.0


def test_the_cdc_fentanyl_example_normalises_days_to_patches_times_three() -> None:
    assert mme_per_day(FENTANYL_PATCH, "10", 30) == 60.0
    assert mme_per_day(FENTANYL_PATCH, "10", 10) == 60.0  # a reported 10 days is not believed


def test_buprenorphine_non_opioids_and_unknown_drugs_are_not_counted() -> None:
    buprenorphine = {**OXYCODONE, "drug": "Buprenorphine", "mme_factor": None}
    benzodiazepine = {**OXYCODONE, "drug_class": "benzodiazepine"}
    assert mme_per_day(buprenorphine, "30", 30) is None
    assert mme_per_day(benzodiazepine, "30", 30) is None
    assert mme_per_day(None, "30", 30) is None


def test_a_zero_days_supply_or_quantity_gives_no_figure_rather_than_a_crash() -> None:
    assert mme_per_day(OXYCODONE, "120", 0) is None
    assert mme_per_day(OXYCODONE, "0", 30) is None
    assert mme_per_day(OXYCODONE, "abc", 30) is None
