"""Field tables of the ASAP segments, per version (4.2, 4.2A, 4.2B).

Each segment is a tuple of :class:`Field`; ``Field.no`` is the element position (``DSP08`` is
``no=8``). ``kind`` selects the check and the conversion done in :mod:`asap`:

========  ==============================================  ==================
kind      accepted                                        converted to
========  ==============================================  ==================
text      any characters, at most ``arg`` of them         str
int       digits only, at most ``arg`` of them            int
digits    digits only, length in ``arg`` (a tuple)        str
dec       a number > 0, at most ``arg`` characters        Decimal
date      CCYYMMDD, a real calendar date                  datetime.date
time      HHMM or HHMMSS                                  str
code      one of ``arg``                                  str
code2     two digits (a code list kept by the PMP)        str
state     two letters                                     str (upper case)
zip       5 or 9 digits                                   str
npi       10 digits with a valid NPI check digit          str
dea       2 letters and 7 digits with a valid DEA check   str (upper case)
========  ==============================================  ==================

Version differences implemented: 4.2A adds PHA13 (pharmacy permit/license number) and DSP22
(quantity prescribed), DSP23 (Rx SIG) and DSP24 (treatment type); 4.2B adds DSP25 (diagnosis
code). Elements beyond a version's table are ignored (kept in no dictionary), not rejected.
"""

from __future__ import annotations

from typing import NamedTuple

VERSIONS = ("4.2", "4.2A", "4.2B")
#: DSP07 of a medical marijuana dispensary's dispensation: a code this program keeps (ASAP's
#: own are 01 NDC and 06 compound); DSP08 is then the program's product code, PAT03 the card.
MARIJUANA = "MM"
UNSUPPORTED_VERSIONS = ("5.0", "5.0A", "5.0B", "5.0C")


class Field(NamedTuple):
    no: int
    key: str
    name: str
    kind: str
    arg: object = None
    required: bool = False


R = True
NAME = 50

TH = (
    Field(1, "version", "Version/Release Number", "code", VERSIONS, R),
    Field(2, "control_number", "Transaction Control Number", "text", 30, R),
    Field(3, "transaction_type", "Transaction Type", "code2"),
    Field(4, "response_id", "Response ID", "text", 30),
    Field(5, "creation_date", "Creation Date", "date", None, R),
    Field(6, "creation_time", "Creation Time", "time", None, R),
    Field(7, "file_type", "File Type", "code", ("P", "T"), R),
    Field(8, "routing_number", "Routing Number", "text", 30),
)

IS = (
    Field(1, "source_id", "Unique Information Source ID", "text", 35, R),
    Field(2, "source_name", "Information Source Entity Name", "text", 60, R),
    Field(3, "message", "Message", "text", 200),
)

PHA_42 = (
    Field(1, "npi", "Pharmacy NPI", "npi"),
    Field(2, "ncpdp", "NCPDP/NABP Provider ID", "digits", (7,)),
    Field(3, "dea", "Pharmacy DEA Number", "dea"),
    Field(4, "name", "Pharmacy Name", "text", 60),
    Field(5, "address_1", "Pharmacy Address 1", "text", 55),
    Field(6, "address_2", "Pharmacy Address 2", "text", 55),
    Field(7, "city", "Pharmacy City", "text", 30),
    Field(8, "state", "Pharmacy State", "state"),
    Field(9, "zip", "Pharmacy ZIP Code", "zip"),
    Field(10, "phone", "Pharmacy Phone Number", "int", 15),
    Field(11, "contact_name", "Pharmacy Contact Name", "text", 60),
    Field(12, "chain_site_id", "Chain Site ID", "text", 30),
)
PHA_42A = PHA_42 + (Field(13, "permit_number", "Pharmacy Permit/License Number", "text", 30),)

PAT = (
    Field(1, "id_jurisdiction", "ID Qualifier of Patient Identifier", "text", 2),
    Field(2, "id_qualifier", "Patient ID Qualifier", "code2"),
    Field(3, "id", "Patient ID", "text", 20),
    Field(4, "additional_id_jurisdiction", "ID Qualifier of Additional Patient ID", "text", 2),
    Field(5, "additional_id_qualifier", "Additional Patient ID Qualifier", "code2"),
    Field(6, "additional_id", "Additional Patient ID", "text", 20),
    Field(7, "last_name", "Patient Last Name", "text", NAME, R),
    Field(8, "first_name", "Patient First Name", "text", NAME, R),
    Field(9, "middle_name", "Patient Middle Name", "text", NAME),
    Field(10, "name_prefix", "Patient Name Prefix", "text", 10),
    Field(11, "name_suffix", "Patient Name Suffix", "text", 10),
    Field(12, "address_1", "Patient Address 1", "text", 55, R),
    Field(13, "address_2", "Patient Address 2", "text", 55),
    Field(14, "city", "Patient City", "text", 30, R),
    # PAT15/PAT16 are required unless PAT22 names a non-US country (checked in asap.py).
    Field(15, "state", "Patient State", "state"),
    Field(16, "zip", "Patient ZIP Code", "zip"),
    Field(17, "phone", "Patient Phone Number", "int", 15),
    Field(18, "birth_date", "Patient Date of Birth", "date", None, R),
    Field(19, "gender", "Patient Gender Code", "code", ("F", "M", "U"), R),
    Field(20, "species", "Species Code", "code", ("01", "02")),
    Field(21, "location_code", "Patient Location Code", "code2"),
    Field(22, "country", "Country of Non-U.S. Resident", "text", 60),
    Field(23, "animal_name", "Name of Animal", "text", 60),
)

DSP_42 = (
    Field(1, "status", "Reporting Status", "code", ("00", "01", "02"), R),
    Field(2, "prescription_number", "Prescription Number", "text", 25, R),
    Field(3, "date_written", "Date Written", "date", None, R),
    Field(4, "refills_authorized", "Refills Authorized", "int", 2, R),
    Field(5, "date_filled", "Date Filled", "date", None, R),
    Field(6, "refill_number", "Refill Number", "int", 2, R),
    Field(7, "product_qualifier", "Product ID Qualifier", "code", ("01", "06", MARIJUANA), R),
    # DSP08: 11 digits when DSP07 is 01 (checked in asap.py).
    Field(8, "ndc", "Product ID", "text", 20, R),
    Field(9, "quantity", "Quantity Dispensed", "dec", 11, R),
    Field(10, "days_supply", "Days Supply", "int", 3, R),
    Field(11, "dosage_units_code", "Drug Dosage Units Code", "code", ("01", "02", "03"), R),
    Field(12, "transmission_form", "Transmission Form of Rx Origin Code", "code2"),
    Field(13, "partial_fill_indicator", "Partial Fill Indicator", "code2"),
    Field(14, "pharmacist_npi", "Pharmacist NPI", "npi"),
    Field(15, "pharmacist_state_license", "Pharmacist State License Number", "text", 20),
    Field(16, "payment_type", "Classification Code for Payment Type", "code2"),
    Field(17, "date_sold", "Date Sold", "date"),
    Field(18, "rxnorm_qualifier", "RxNorm Product Qualifier", "code2"),
    Field(19, "rxnorm_code", "RxNorm Code", "int", 15),
    Field(20, "erx_reference_number", "Electronic Prescription Reference Number", "text", 35),
    Field(21, "erx_order_number", "Electronic Prescription Order Number", "text", 35),
)
DSP_42A = DSP_42 + (
    Field(22, "quantity_prescribed", "Quantity Prescribed", "dec", 11),
    Field(23, "rx_sig", "Rx SIG", "text", 200),
    Field(24, "treatment_type", "Treatment Type", "code2"),
)
DSP_42B = DSP_42A + (Field(25, "diagnosis_code", "Diagnosis Code", "text", 10),)

PRE = (
    Field(1, "npi", "Prescriber NPI", "npi"),
    Field(2, "dea", "Prescriber DEA Number", "dea"),
    Field(3, "dea_suffix", "Prescriber DEA Number Suffix", "text", 10),
    Field(4, "state_license", "Prescriber State License Number", "text", 20),
    Field(5, "last_name", "Prescriber Last Name", "text", NAME),
    Field(6, "first_name", "Prescriber First Name", "text", NAME),
    Field(7, "middle_name", "Prescriber Middle Name", "text", NAME),
    Field(8, "phone", "Prescriber Phone Number", "int", 15),
)

CDI = (
    Field(1, "sequence_number", "Compound Drug Ingredient Sequence Number", "int", 3, R),
    Field(2, "product_qualifier", "Compound Product ID Qualifier", "code2", None, R),
    Field(3, "product_id", "Compound Product ID", "text", 20, R),
    Field(4, "quantity", "Compound Ingredient Quantity", "dec", 11, R),
    Field(5, "dosage_units_code", "Compound Drug Dosage Units Code", "code", ("01", "02", "03"), R),
)

AIR = (
    Field(1, "serial_issuing_state", "State Issuing Rx Serial Number", "state"),
    Field(2, "serial_number", "State Issued Rx Serial Number", "text", 20),
    Field(3, "issuing_jurisdiction", "Issuing Jurisdiction", "text", 2),
    Field(4, "person_id_qualifier", "ID Qualifier of Person Dropping Off or Picking Up", "code2"),
    Field(5, "person_id", "ID of Person Dropping Off or Picking Up Rx", "text", 20),
    Field(6, "person_relationship", "Relationship of Person Dropping Off or Picking Up", "code2"),
    Field(7, "person_last_name", "Last Name of Person Dropping Off or Picking Up", "text", NAME),
    Field(8, "person_first_name", "First Name of Person Dropping Off or Picking Up", "text", NAME),
    Field(9, "pharmacist_last_name", "Last Name or Initials of Pharmacist", "text", NAME),
    Field(10, "pharmacist_first_name", "First Name of Pharmacist", "text", NAME),
    Field(11, "drop_off_pick_up", "Dropping Off/Picking Up Identifier Qualifier", "code2"),
)

TP = (Field(1, "detail_segment_count", "Detail Segment Count", "int", 10, R),)

TT = (
    Field(1, "control_number", "Transaction Control Number", "text", 30, R),
    Field(2, "segment_count", "Segment Count", "int", 10, R),
)

_BASE = {"TH": TH, "IS": IS, "PAT": PAT, "PRE": PRE, "CDI": CDI, "AIR": AIR, "TP": TP, "TT": TT}

TABLES: dict[str, dict[str, tuple[Field, ...]]] = {
    "4.2": {**_BASE, "PHA": PHA_42, "DSP": DSP_42},
    "4.2A": {**_BASE, "PHA": PHA_42A, "DSP": DSP_42A},
    "4.2B": {**_BASE, "PHA": PHA_42A, "DSP": DSP_42B},
}

SEGMENT_NAMES = {
    "TH": "Transaction Header",
    "IS": "Information Source",
    "PHA": "Pharmacy Header",
    "PAT": "Patient Information",
    "DSP": "Dispensing Record",
    "PRE": "Prescriber Information",
    "CDI": "Compound Drug Ingredient Detail",
    "AIR": "Additional Information Reporting",
    "TP": "Pharmacy Trailer",
    "TT": "Transaction Trailer",
}
