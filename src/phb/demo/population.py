"""Generated people with realistic Nigerian and English demographics, and copies of them as a busy
reception desk records them again (typos, swapped names, missing fields...). Used by the demo seed,
and to measure the master patient index (`bench/workloads/mpi_quality.py`, tests/patients/test_mpi.py).

Deterministic for a given seed. Families share a surname, phone and address; some siblings are twins
born the same day: the hard negatives a matcher must not merge. Every person here is invented."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, replace

from faker import Faker

LOCALES = ("yo_NG", "ig_NG", "ha_NG", "en_NG", "en_GB")
STATES = {
    "Lagos": ("Ikeja", "Surulere", "Lekki", "Yaba"),
    "Oyo": ("Ibadan", "Ogbomoso"),
    "Enugu": ("Enugu", "Nsukka"),
    "Kano": ("Kano",),
    "FCT": ("Abuja",),
    "Rivers": ("Port Harcourt",),
}
# Spellings of the same name a clerk may write (both directions are used).
VARIANTS = {
    "Mohammed": "Muhammad",
    "Muhammed": "Mohammed",
    "Aisha": "Ayisha",
    "Chukwuemeka": "Chukwuemeke",
    "Adebayo": "Adebayor",
    "Abdullahi": "Abdullah",
    "Olumide": "Olumidé",
    "Ngozi": "Ngozie",
    "Oluwaseun": "Oluwaséun",
    "Yusuf": "Yusuph",
    "Ibrahim": "Ibraheem",
    "Catherine": "Katherine",
    "Stephen": "Steven",
}


@dataclass(frozen=True)
class Person:
    key: int  # which real person this record is of (duplicates share it)
    given_name: str
    family_name: str
    other_names: str
    sex: str
    birth_date: dt.date | None
    birth_date_estimated: bool
    phone: str
    state: str
    city: str
    address_line: str
    occupation: str
    marital_status: str


def _phone(rng: random.Random) -> str:
    return f"+234{rng.choice(['803', '806', '813', '816', '703', '706', '810', '905', '802', '808'])}{rng.randrange(10**7):07d}"


def _birth_date(rng: random.Random, today: dt.date) -> dt.date:
    age_days = rng.randint(0, 90 * 365)
    return today - dt.timedelta(days=age_days)


def people(count: int, *, seed: int = 2026, today: dt.date | None = None) -> list[Person]:
    """`count` distinct people; about one in five shares a household with others (same surname, phone
    and address), some of them twins."""
    rng = random.Random(seed)
    fakers = {locale: Faker(locale) for locale in LOCALES}
    for i, fake in enumerate(fakers.values()):
        fake.seed_instance(seed + i)
    today = today or dt.date(2026, 11, 1)
    out: list[Person] = []
    while len(out) < count:
        fake = fakers[rng.choice(LOCALES)]
        family_name = fake.last_name()
        state = rng.choice(list(STATES))
        household = {
            "phone": _phone(rng),
            "state": state,
            "city": rng.choice(STATES[state]),
            "address_line": fake.street_address() if hasattr(fake, "street_address") else "",
        }
        size = 1 if rng.random() < 0.8 else rng.randint(2, 4)
        twins_on = _birth_date(rng, today) if size > 1 and rng.random() < 0.3 else None
        used: set[str] = set()
        for member in range(size):
            if len(out) >= count:
                break
            sex = rng.choice(("female", "male"))
            given = fake.first_name_female() if sex == "female" else fake.first_name_male()
            while given in used:
                given = fake.first_name_female() if sex == "female" else fake.first_name_male()
            used.add(given)
            other = fake.first_name_female() if sex == "female" else fake.first_name_male()
            born = twins_on if twins_on and member < 2 else _birth_date(rng, today)
            out.append(
                Person(
                    key=len(out),
                    given_name=given,
                    family_name=family_name,
                    other_names=other if rng.random() < 0.5 else "",
                    sex=sex,
                    birth_date=born,
                    birth_date_estimated=False,
                    phone=household["phone"] if member == 0 or rng.random() < 0.6 else _phone(rng),
                    state=household["state"],
                    city=household["city"],
                    address_line=household["address_line"],
                    occupation=fake.job()[:100] if rng.random() < 0.7 else "",
                    marital_status=rng.choice(("single", "married", "married", "widowed", "unknown")),
                )
            )
    return out


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("drop", "double", "swap", "replace"))
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + rng.choice("aeiounrst") + word[i + 1 :]


def _one_change(rng: random.Random, p: Person, today: dt.date) -> Person:
    change = rng.choice(
        (
            "typo_given",
            "typo_family",
            "variant",
            "swap_names",
            "middle_as_given",
            "swap_day_month",
            "birth_digit",
            "estimated_age",
            "no_birth_date",
            "no_phone",
            "new_phone",
            "sex_unknown",
            "case_and_spaces",
        )
    )
    if change == "typo_given":
        return replace(p, given_name=_typo(rng, p.given_name))
    if change == "typo_family":
        return replace(p, family_name=_typo(rng, p.family_name))
    if change == "variant":
        for a, b in VARIANTS.items():
            if p.given_name == a:
                return replace(p, given_name=b)
            if p.given_name == b:
                return replace(p, given_name=a)
        return replace(p, given_name=_typo(rng, p.given_name))
    if change == "swap_names":
        return replace(p, given_name=p.family_name, family_name=p.given_name)
    if change == "middle_as_given" and p.other_names:
        return replace(p, given_name=p.other_names, other_names=p.given_name)
    if (
        change == "swap_day_month"
        and p.birth_date
        and p.birth_date.day <= 12
        and p.birth_date.day != p.birth_date.month
    ):
        return replace(p, birth_date=p.birth_date.replace(month=p.birth_date.day, day=p.birth_date.month))
    if change == "birth_digit" and p.birth_date:
        for _ in range(10):
            text = p.birth_date.isoformat()
            i = rng.choice((3, 6, 8, 9))
            try:
                return replace(p, birth_date=dt.date.fromisoformat(text[:i] + str(rng.randrange(10)) + text[i + 1 :]))
            except ValueError:
                continue
        return p
    if change == "estimated_age" and p.birth_date:
        age = (today - p.birth_date).days // 365 + rng.choice((-1, 0, 0, 1))
        return replace(p, birth_date=dt.date(today.year - max(age, 0), 7, 1), birth_date_estimated=True)
    if change == "no_birth_date":
        return replace(p, birth_date=None)
    if change == "no_phone":
        return replace(p, phone="")
    if change == "new_phone":
        return replace(p, phone=_phone(rng))
    if change == "sex_unknown":
        return replace(p, sex="unknown")
    return replace(p, given_name=f" {p.given_name.upper()}", family_name=p.family_name.lower() + " ")


def recorded_again(person: Person, *, seed: int, changes: int | None = None, today: dt.date | None = None) -> Person:
    """The same person as a second registration records them: one to three changes."""
    rng = random.Random(seed)
    today = today or dt.date(2026, 11, 1)
    again = person
    for _ in range(changes or rng.choice((1, 1, 2, 2, 3))):
        again = _one_change(rng, again, today)
    return again
