"""The drug reference: the CDC 2018 NDC/MME file read right, NDCs found in any usual layout."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from services.submissions.drugs import (
    Drug,
    DrugReference,
    is_buprenorphine,
    is_fentanyl_patch,
    is_methadone,
    load_reference,
    ndc_candidates,
    normalise_ndc,
)

OXYCODONE_10 = "00603499321"  # OXYCODONE HCL 10 mg tablet, factor 1.5
FENTANYL_25 = "00093690045"  # FENTANYL TRANSDERMAL SYSTEM 25 mcg/hr, factor 7.2
BUPRENORPHINE_8 = "00054017713"  # buprenorphine HCl 8 mg tablet, no factor
ALPRAZOLAM = "00005334031"  # alprazolam 0.25 mg tablet, schedule IV
BACLOFEN = "00028002301"  # LIORESAL (baclofen), not controlled (DEAClassCode 6)


@pytest.fixture(scope="module")
def reference() -> DrugReference:
    return load_reference()


def test_every_row_of_the_five_sheets_is_loaded(reference):
    assert len(reference) == 14_549 + 7_816 + 5_987 + 1_102 + 810


def test_loading_takes_well_under_a_second():
    started = time.perf_counter()
    load_reference()
    assert time.perf_counter() - started < 1.0


def test_cdc_example_oxycodone_10_mg_tablet_has_factor_1_5(reference):
    drug = reference.get(OXYCODONE_10)
    assert drug == Drug(
        ndc=OXYCODONE_10,
        name="OXYCODONE HCL",
        generic_name="Oxycodone Hydrochloride",
        drug="Oxycodone SA",
        drug_class="opioid",
        schedule=2,
        strength_per_unit=Decimal("10"),
        unit="MG",
        mme_factor=Decimal("1.5"),
        long_acting=False,
        form="Tablet",
    )
    # the workbook's example: 10 mg x (120 tablets / 30 days) x 1.5 = 60 MME/day
    assert drug.strength_per_unit * Decimal(120) / Decimal(30) * drug.mme_factor == 60
    assert not is_fentanyl_patch(drug) and not is_methadone(drug)


def test_cdc_example_fentanyl_25_mcg_hr_patch_has_factor_7_2(reference):
    drug = reference.get(FENTANYL_25)
    assert drug.drug_class == "opioid" and drug.schedule == 2
    assert (drug.strength_per_unit, drug.unit) == (Decimal("25"), "MCG/HR")
    assert drug.mme_factor == Decimal("7.2")
    assert drug.long_acting is True
    assert is_fentanyl_patch(drug)
    # 10 patches, days supply normalised to 10 x 3: 25 x (10 / 30) x 7.2 = 60 MME/day
    assert drug.strength_per_unit * Decimal(10) / Decimal(30) * drug.mme_factor == 60


def test_buprenorphine_has_no_factor(reference):
    drug = reference.get(BUPRENORPHINE_8)
    assert drug.drug_class == "opioid" and drug.schedule == 3
    assert drug.mme_factor is None
    assert is_buprenorphine(drug)
    assert all(d.mme_factor is None for d in reference if is_buprenorphine(d))
    assert all(
        d.mme_factor is not None
        for d in reference
        if d.drug_class == "opioid" and not is_buprenorphine(d)
    )


def test_a_product_without_strength_or_unit_loads_with_none(reference):
    sublocade = reference.get("12496010001")
    assert sublocade.strength_per_unit is None and sublocade.unit is None


def test_methadone_is_recognised(reference):
    methadone = [d for d in reference if is_methadone(d)]
    assert len(methadone) == 213
    assert {d.mme_factor for d in methadone} == {Decimal(3)}


def test_a_benzodiazepine(reference):
    drug = reference.get(ALPRAZOLAM)
    assert (drug.drug_class, drug.schedule, drug.drug) == ("benzodiazepine", 4, "Alprazolam")
    assert drug.mme_factor is None and drug.long_acting is None


def test_classes_and_schedules(reference):
    assert reference.get(BACLOFEN).drug_class == "muscle_relaxant"
    assert reference.get(BACLOFEN).schedule is None  # DEAClassCode 6: not controlled
    assert reference.get("00024540131").drug_class == "sleep_drug"  # AMBIEN
    assert reference.get("00115132801").drug_class == "stimulant"
    assert {d.drug_class for d in reference} == {
        "opioid",
        "benzodiazepine",
        "muscle_relaxant",
        "stimulant",
        "sleep_drug",
    }
    assert {d.schedule for d in reference} == {2, 3, 4, 5, None}


def test_an_unknown_ndc_is_none(reference):
    assert reference.get("99999999999") is None
    assert reference.get("not an ndc") is None
    assert reference.get("") is None
    assert "99999999999" not in reference and OXYCODONE_10 in reference


@pytest.mark.parametrize(
    "written",
    [
        "00603499321",  # 11 digits
        "00603-4993-21",  # 5-4-2
        "0603-4993-21",  # 4-4-2: labeler padded
        " 00603-4993-21 ",
    ],
)
def test_labeler_dash_layouts(reference, written):
    assert reference.get(written).ndc == OXYCODONE_10


def test_product_and_package_dash_layouts(reference):
    assert normalise_ndc("00093-690-45") == "00093069045"  # 5-3-2: product padded
    assert normalise_ndc("00093-6900-5") == "00093690005"  # 5-4-1: package padded
    assert normalise_ndc("0093-6900-45") == FENTANYL_25  # 4-4-2: labeler padded
    assert reference.get("0054-0177-13").ndc == BUPRENORPHINE_8


@pytest.mark.parametrize(
    "bad",
    [
        "0603-499-21",
        "006034-993-21",
        "00603-49932-1",
        "603499321",
        "006034993210",
        "00603_4993_21",
        "٠٠٦٠٣٤٩٩٣٢١",
        "٠٠٦٠٣-٤٩٩٣-٢١",
    ],
)
def test_what_is_not_an_ndc_layout(bad):
    assert ndc_candidates(bad) == ()


def test_plain_ten_digits_found_when_only_one_padding_is_known(reference):
    assert ndc_candidates("0603499321") == ("00603499321", "06034099321", "06034993201")
    assert normalise_ndc("0603499321") is None  # ambiguous by itself
    assert reference.get("0603499321").ndc == OXYCODONE_10


def test_plain_ten_digits_matching_two_ndcs_is_refused(reference):
    # 33261-0088-20 and 33261-0882-00 both print as 3326108820 without dashes
    assert reference.get("33261008820") is not None
    assert reference.get("33261088200") is not None
    assert reference.get("3326108820") is None
    assert reference.get("33261-088-20").ndc == "33261008820"


def test_a_broken_file_names_the_line(tmp_path):
    header = (
        "NDC,NDC_Numeric,PRODNME,GENNME,Master_Form,Class,Drug,LongShortActing,"
        "DEAClassCode,Strength_Per_Unit,UOM\r\n"
    )
    (tmp_path / "x.csv").write_text(
        header + "00005334031,5334031,A,A,Tablet,Benzo,Alprazolam,,4,0.25,MG\r\n"
        "00005334043,5334043,A,A,Tablet,Barbiturate,X,,4,0.25,MG\r\n"
    )
    with pytest.raises(ValueError, match="x.csv, line 3"):
        load_reference(tmp_path)
