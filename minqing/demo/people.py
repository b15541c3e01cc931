"""Households and residents of a run of villages, generated as rows ready for a bulk INSERT.

Runs in a worker process for big builds, so everything here is plain data in, plain data out.
Personal data is sealed exactly as ``minqing.lib.fields`` would seal it (see ``Sealer``).
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from minqing.demo import names
from minqing.demo.plan import GridPlan, VillagePlan
from minqing.lib.crypto import FORMAT_VERSION, Keyring, cipher_for

REGION = "341602"
ID_SEQUENCES = 500  # distinct order codes per birth date and sex that make_id_number can build
SIZE_CUM = (15, 43, 65, 82, 92, 97, 100)  # household sizes 1…7, cumulative per cent (mean ≈ 3.0)

HOUSEHOLD_COLUMNS = (
    "id",
    "node_id",
    "village_id",
    "number",
    "address",
    "head_name",
    "seal_id",
    "phone",
    "phone_hash",
    "family_situation",
    "income_source",
    "income_notes",
    "children_education",
    "social_relations",
    "latitude",
    "longitude",
    "member_count",
    "version",
    "created_at",
    "updated_at",
)
RESIDENT_COLUMNS = (
    "household_id",
    "name",
    "relation",
    "sex",
    "birth_date",
    "seal_id",
    "id_number",
    "id_number_hash",
    "phone",
    "phone_hash",
    "politics",
    "education",
    "occupation",
    "works_away",
    "health",
    "health_notes",
    "notes",
    "version",
    "created_at",
    "updated_at",
)
TAG_COLUMNS = ("household_id", "householdtag_id")
ARCHIVE_COLUMNS = (
    "village_id",
    "committee",
    "collective_economy",
    "party_building",
    "stability",
    "year_plan",
    "area_km2",
    "office_phone",
    "version",
    "updated_at",
)


#: ``EncryptedField.context`` of the columns written here (a test checks them against the fields)
HOUSEHOLD_PHONE = "households_household.phone"
HOUSEHOLD_INCOME = "households_household.income_notes"
RESIDENT_ID = "households_resident.id_number"
RESIDENT_PHONE = "households_resident.phone"
RESIDENT_HEALTH = "households_resident.health_notes"


class _ContextBytes(dict):
    def __init__(self, suffix: bytes = b"") -> None:
        super().__init__()
        self.suffix = suffix

    def __missing__(self, context: str) -> bytes:
        self[context] = context.encode() + self.suffix
        return self[context]


class Sealer:
    """``crypto.encrypt`` / ``crypto.blind_index`` with the cipher and HMAC keyed once.

    Byte-for-byte the format of ``minqing.lib.crypto`` (version, key id, seal id, nonce,
    ciphertext+tag, bound to the row's seal id and the column), so the ORM decrypts these values
    like any other; only the per-call key setup is saved. The cipher is the current key's
    (SM4-GCM or AES-256-GCM, ``crypto.cipher_for``).
    """

    def __init__(self, ring: Keyring, *, seal_as_text: bool = True) -> None:
        self._aead, self._aad_suffix = cipher_for(ring, ring.current)
        self._prefix = bytes([FORMAT_VERSION]) + ring.current.to_bytes(2, "big")
        self._hmac = hmac.new(ring.index_key, digestmod="sha256")  # OpenSSL's, copied in C
        self._seal_as_text = seal_as_text  # SQLite keeps a UUIDField as 32 hex digits
        self._pool, self._pool_at = b"", 0
        self._contexts = _ContextBytes(self._aad_suffix)

    def seal_id(self) -> tuple[bytes, Any]:
        """A new row's seal id: its bytes and its column value."""
        if self._pool_at >= len(self._pool):
            self._pool, self._pool_at = os.urandom(16 * 4096), 0  # one call per 4,096 rows
        raw = self._pool[self._pool_at : self._pool_at + 16]
        self._pool_at += 16
        return raw, (raw.hex() if self._seal_as_text else uuid.UUID(bytes=raw))

    def encrypt(self, plaintext: str, context: str, seal_id: bytes) -> bytes:
        header = self._prefix + seal_id
        nonce = os.urandom(12)
        aad = header + self._contexts[context]
        return header + nonce + self._aead.encrypt(nonce, plaintext.encode(), aad)

    def blind_index(self, value: str, purpose: str) -> str:
        mac = self._hmac.copy()
        mac.update(f"{purpose}:{value}".encode())
        return mac.hexdigest()


@dataclass
class Batch:
    """Everything a worker needs to generate the households of a run of villages."""

    seed: int
    index: int
    count: int  # how many batches the county has (they share the ID order codes)
    villages: list[VillagePlan]
    tag_ids: dict[str, int]
    ring: Keyring
    today: dt.date
    stamp: Any  # created_at/updated_at as the database adapter wants it
    dates_as_text: bool  # SQLite gets ISO strings, PostgreSQL date objects


@dataclass
class BatchRows:
    households: list[tuple[Any, ...]] = field(default_factory=list)
    residents: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[int, int]] = field(default_factory=list)
    archives: list[tuple[Any, ...]] = field(default_factory=list)
    grid_residents: dict[int, int] = field(default_factory=dict)
    tag_counts: dict[str, int] = field(default_factory=dict)
    party_members: int = 0
    adults: int = 0


_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


class IdNumbers:
    """``idcard.make_id_number`` for one region, with the weighted sum of region and birth date
    cached per date: the same numbers (a test checks it) at a fraction of the cost."""

    def __init__(self, region: str = REGION) -> None:
        self.region = region[:6]
        self._head = sum(int(d) * w for d, w in zip(self.region, _WEIGHTS[:6], strict=True))
        self._dates: dict[int, tuple[str, int]] = {}

    def make(self, born: dt.date, sequence: int, sex: str) -> str:
        key = born.toordinal()
        cached = self._dates.get(key)
        if cached is None:
            text = f"{born:%Y%m%d}"
            total = self._head + sum(int(d) * w for d, w in zip(text, _WEIGHTS[6:14], strict=True))
            cached = self._dates[key] = (self.region + text, total)
        base = sequence % 100 * 10 + (sequence // 100) % 5 * 2
        order = base + 1 if sex == "M" else base
        total = cached[1] + order // 100 * 8 + order // 10 % 10 * 4 + order % 10 * 2
        return f"{cached[0]}{order:03d}{_CHECK[total % 11]}"


class IdAllocator:
    """Unique ID numbers: batch i of n owns order codes i, i+n, i+2n … of every birth date.

    So batches can run in any process, in any order, and still never build the same number.
    """

    def __init__(self, index: int, count: int) -> None:
        self.offset = index
        self.stride = count
        self.used: dict[tuple[int, str], int] = {}
        self.numbers = IdNumbers()

    def take(self, born: dt.date, sex: str, today: dt.date) -> tuple[dt.date, str]:
        """The ID number for ``born``/``sex`` (the nearest free date if that one is full)."""
        wanted = born.toordinal()
        latest = today.toordinal() - 1
        for shift in range(400):
            for day in (wanted - shift, wanted + shift) if shift else (wanted,):
                if day > latest:
                    continue
                key = (day, sex)
                n = self.used.get(key, 0)
                seq = self.offset + n * self.stride
                if seq < ID_SEQUENCES:
                    self.used[key] = n + 1
                    date = born if day == wanted else dt.date.fromordinal(day)
                    return date, self.numbers.make(date, seq, sex)
        raise RuntimeError("no free ID number near this birth date")


@dataclass
class Member:
    relation: str
    sex: str
    age: int
    surname: str
    born: dt.date | None = None
    name: str = ""
    works_away: bool = False
    health: str = "healthy"
    politics: str = "masses"


def generate_batch(task: Batch) -> BatchRows:
    """Rows for every village of a batch; deterministic for a given seed (except nonces)."""
    gen = _Generator(task)
    for village in task.villages:
        gen.village(village)
    return gen.rows


class _Generator:
    def __init__(self, task: Batch) -> None:
        self.task = task
        self.sealer = Sealer(task.ring, seal_as_text=task.dates_as_text)
        self.ids = IdAllocator(task.index, task.count)
        self.rows = BatchRows()
        self.today = task.today
        self.today_ord = task.today.toordinal()

    # -- one village -------------------------------------------------------------------------
    def village(self, village: VillagePlan) -> None:
        rng = random.Random(f"{self.task.seed}:village:{village.index}")
        household_id = village.first_household_id
        urban = village.node.kind == "urban"
        party = 0
        for grid in village.grids:
            residents_before = len(self.rows.residents)
            for k in range(1, grid.households + 1):
                party += self.household(rng, village, grid, k, household_id, urban)
                household_id += 1
            self.rows.grid_residents[grid.node.id] = len(self.rows.residents) - residents_before
        if rng.random() < 0.85:
            self.rows.archives.append(self.archive(rng, village, urban, party))

    # -- one household -----------------------------------------------------------------------
    def household(
        self,
        rng: random.Random,
        village: VillagePlan,
        grid: GridPlan,
        k: int,
        household_id: int,
        urban: bool,
    ) -> int:
        members = self.family(rng, urban)
        sealer, task = self.sealer, self.task
        stamp = task.stamp
        head = members[0]
        phone = ""
        for m in members:
            self.person(rng, m, urban)
        party = 0
        resident_rows = self.rows.residents
        for m in members:
            m_phone = ""
            if (18 <= m.age <= 75 and rng.random() < 0.85) or (m.age > 75 and rng.random() < 0.2):
                m_phone = names.phone(rng)
                phone = phone or m_phone
            assert m.born is not None  # set by self.person above
            m.born, id_number = self.ids.take(m.born, m.sex, self.today)
            note = ""
            health_notes = None
            seal, seal_column = sealer.seal_id()
            if m.health == "chronic":
                health_notes = sealer.encrypt(rng.choice(names.CHRONIC), RESIDENT_HEALTH, seal)
            elif m.health == "serious":
                health_notes = sealer.encrypt(rng.choice(names.SERIOUS), RESIDENT_HEALTH, seal)
            elif m.health == "disabled":
                health_notes = sealer.encrypt(rng.choice(names.DISABILITY), RESIDENT_HEALTH, seal)
            occupation, education = self.occupation(rng, m, urban)
            if m.works_away:
                note = f"常年在{rng.choice(names.WORK_PLACES)}务工"
            if m.politics == "party":
                party += 1
            if m.age >= 18:
                self.rows.adults += 1
            resident_rows.append(
                (
                    household_id,
                    m.name,
                    m.relation,
                    m.sex,
                    m.born.isoformat() if task.dates_as_text else m.born,
                    seal_column,
                    sealer.encrypt(id_number, RESIDENT_ID, seal),
                    sealer.blind_index(id_number, "id_number"),
                    sealer.encrypt(m_phone, RESIDENT_PHONE, seal) if m_phone else None,
                    sealer.blind_index(m_phone, "phone") if m_phone else "",
                    m.politics,
                    education,
                    occupation,
                    m.works_away,
                    m.health,
                    health_notes,
                    note,
                    1,
                    stamp,
                    stamp,
                )
            )
        self.rows.party_members += party
        tags = self.tags(rng, members, urban)
        for code in tags:
            self.rows.tags.append((household_id, task.tag_ids[code]))
            self.rows.tag_counts[code] = self.rows.tag_counts.get(code, 0) + 1
        income = self.income(rng, members, tags, urban)
        lat = lon = None
        if rng.random() < 0.2:
            lat = Decimal(f"{village.lat + rng.uniform(-0.008, 0.008):.6f}")
            lon = Decimal(f"{village.lon + rng.uniform(-0.01, 0.01):.6f}")
        income_notes = None
        seal, seal_column = sealer.seal_id()
        if rng.random() < 0.5:
            notes = f"家庭年收入约{rng.randint(1, 15)}万元"
            income_notes = sealer.encrypt(notes, HOUSEHOLD_INCOME, seal)
        self.rows.households.append(
            (
                household_id,
                grid.node.id,
                village.node.id,
                f"{grid.number:02d}{k:03d}",
                self.address(rng, grid, k),
                head.name,
                seal_column,
                sealer.encrypt(phone, HOUSEHOLD_PHONE, seal) if phone else None,
                sealer.blind_index(phone, "phone") if phone else "",
                self.situation(rng, members, tags),
                income,
                income_notes,
                self.education_text(members),
                self.relations(rng),
                lat,
                lon,
                len(members),
                1,
                stamp,
                stamp,
            )
        )
        return party

    def family(self, rng: random.Random, urban: bool) -> list[Member]:
        """Relations and ages that fit together: 户主, 配偶, 子女, 儿媳/女婿, 孙子女, 父母."""
        r = rng.random() * 100
        size = next(i for i, c in enumerate(SIZE_CUM, start=1) if r < c)
        s = names.surname(rng)
        if size == 1:
            if rng.random() < 0.3:
                return [Member("head", "F" if rng.random() < 0.55 else "M", rng.randint(65, 92), s)]
            return [Member("head", "M" if rng.random() < 0.7 else "F", rng.randint(20, 64), s)]
        head_sex = "M" if rng.random() < 0.85 else "F"
        head = Member("head", head_sex, int(rng.triangular(24, 84, 46)), s)
        members = [head]
        other = "F" if head_sex == "M" else "M"
        if rng.random() < 0.9:
            age = max(20, min(95, head.age + int(rng.gauss(-2 if head_sex == "M" else 2, 3))))
            members.append(Member("spouse", other, age, names.surname(rng)))
        line = s if head_sex == "M" else names.surname(rng)
        left = size - len(members)
        if head.age >= 52:
            child_age = head.age - rng.randint(22, 32)
            while left > 0 and child_age >= 0:
                child = Member("child", "M" if rng.random() < 0.55 else "F", child_age, line)
                members.append(child)
                left -= 1
                if left > 0 and child_age >= 24 and rng.random() < 0.7:
                    in_law_sex = "F" if child.sex == "M" else "M"
                    members.append(
                        Member(
                            "child_in_law",
                            in_law_sex,
                            max(20, child_age + rng.randint(-3, 3)),
                            names.surname(rng),
                        )
                    )
                    left -= 1
                grand_age = child_age - rng.randint(22, 30)
                while left > 0 and grand_age >= 0 and rng.random() < 0.8:
                    members.append(
                        Member(
                            "grandchild",
                            "M" if rng.random() < 0.53 else "F",
                            grand_age,
                            line if child.sex == "M" else names.surname(rng),
                        )
                    )
                    left -= 1
                    grand_age -= rng.randint(2, 6)
                child_age -= rng.randint(2, 6)
        else:
            parents = 0
            if left >= 2 and head.age <= 55 and rng.random() < 0.45:
                parents = 1 if left == 2 or rng.random() < 0.5 else 2
            child_age = head.age - rng.randint(22, 34)
            while left - parents > 0 and child_age >= 0:
                members.append(
                    Member("child", "M" if rng.random() < 0.53 else "F", child_age, line)
                )
                left -= 1
                child_age -= rng.randint(2, 6)
            parent_age = head.age + rng.randint(24, 32)
            for p in range(min(left, parents)):
                if parent_age > 96:
                    break
                members.append(
                    Member(
                        "parent",
                        "M" if p == 0 else "F",
                        parent_age - 2 * p,
                        s if p == 0 else names.surname(rng),
                    )
                )
                left -= 1
        while left > 0:  # whatever does not fit a nuclear family: a sibling of the head
            members.append(
                Member(
                    "sibling",
                    "M" if rng.random() < 0.5 else "F",
                    max(16, head.age + rng.randint(-8, 8)),
                    s,
                )
            )
            left -= 1
        return members

    def person(self, rng: random.Random, m: Member, urban: bool) -> None:
        """Name, birth date, health, politics and work of one member."""
        born_ord = self.today_ord - int((m.age + rng.random()) * 365.2425)
        m.born = dt.date.fromordinal(min(born_ord, self.today_ord - 1))
        m.name = m.surname + names.given_name(rng, m.sex, m.born.year)
        age = m.age
        h = rng.random()
        if age < 40:
            m.health = "chronic" if h < 0.02 else "disabled" if h < 0.025 else "healthy"
        elif age < 60:
            m.health = (
                "chronic"
                if h < 0.12
                else "serious"
                if h < 0.135
                else "disabled"
                if h < 0.15
                else "healthy"
            )
        else:
            m.health = (
                "chronic"
                if h < 0.35
                else "serious"
                if h < 0.39
                else "disabled"
                if h < 0.42
                else "healthy"
            )
        p = rng.random()
        if age >= 18:
            party = 0.085 if (m.sex == "M" and age >= 45) else 0.035
            m.politics = "party" if p < party else "other" if p > 0.998 else "masses"
        if 14 <= age <= 28 and m.politics == "masses" and rng.random() < 0.25:
            m.politics = "league"
        if 18 <= age <= 55 and m.health == "healthy":
            m.works_away = rng.random() < (0.11 if urban else 0.21)

    def occupation(self, rng: random.Random, m: Member, urban: bool) -> tuple[str, str]:
        age, year = m.age, m.born.year if m.born else 1970
        if age < 6:
            return "学龄前儿童", "学龄前"
        if m.works_away:
            return rng.choice(names.JOBS_AWAY), rng.choice(("初中", "初中", "高中", "中专", "大专"))
        if age < 12:
            return "学生", "小学在读"
        if age < 15:
            return "学生", "初中在读"
        if age < 18:
            return "学生", "高中在读"
        if year < 1955:
            edu = rng.choice(("文盲", "小学", "小学", "初中"))
        elif year < 1975:
            edu = rng.choice(("小学", "初中", "初中", "高中"))
        elif year < 1990:
            edu = rng.choice(("初中", "初中", "高中", "中专", "大专"))
        else:
            edu = rng.choice(("初中", "高中", "中专", "大专", "本科", "本科"))
        if age <= 22 and edu in ("大专", "本科") and rng.random() < 0.6:
            return "学生", f"{edu}在读"
        if age >= 60:
            return ("退休" if urban or rng.random() < 0.1 else "务农"), edu
        return (
            rng.choice(names.JOBS_HOME)
            if urban
            else "务农"
            if rng.random() < 0.6
            else rng.choice(names.JOBS_HOME)
        ), edu

    def tags(self, rng: random.Random, members: list[Member], urban: bool) -> list[str]:
        head = members[0]
        tags: list[str] = []
        alone_old = len(members) == 1 and head.age >= 65
        if any(m.works_away for m in members):
            tags.append("migrant_worker")
        if alone_old:
            tags.append("elderly_alone")
        if len(members) == 2 and all(m.age >= 60 for m in members):
            tags.append("empty_nest")
        if (
            not urban
            and any(m.age < 16 for m in members)
            and any(m.works_away for m in members)
            and rng.random() < 0.3
        ):
            tags.append("left_behind_child")
        if any(m.politics == "party" and m.age >= 60 for m in members):
            tags.append("old_party_member")
        if any(m.health == "disabled" for m in members):
            tags.append("disabled")
        poor = any(m.health in ("serious", "disabled") for m in members) or alone_old
        r = rng.random()
        if not urban and r < (0.12 if poor else 0.036):
            tags.append("poverty_exited")
        elif not urban and r < (0.16 if poor else 0.049):
            tags.append("monitored")
        if rng.random() < (0.12 if poor else 0.018):
            tags.append("dibao")
        if alone_old and not urban and rng.random() < 0.08:
            tags.append("wubao")
        r = rng.random()
        if r < 0.005 and head.age >= 60:
            tags.append("retired_cadre")
        elif r < 0.01:
            tags.append("dispute")
        elif r < 0.022:
            tags.append("able_earner")
        elif r < 0.032:
            tags.append("military")
        return tags

    def income(
        self, rng: random.Random, members: list[Member], tags: list[str], urban: bool
    ) -> str:
        if "dibao" in tags or "wubao" in tags:
            return "低保及救助"
        if "able_earner" in tags:
            return rng.choice(("个体经营", "养殖", "种植大户"))
        if all(m.age >= 60 for m in members):
            return "退休金" if urban else rng.choice(("务农", "子女赡养", "养老金"))
        if "migrant_worker" in tags:
            return "务工" if urban or rng.random() < 0.5 else "务农兼务工"
        table = names.INCOME_URBAN if urban else names.INCOME_RURAL
        return rng.choices([t for t, _w in table], weights=[w for _t, w in table])[0]

    def address(self, rng: random.Random, grid: GridPlan, k: int) -> str:
        if grid.style == "group":
            return f"{grid.node.name}{k}号"
        unit, room = divmod(k - 1, 12)
        floor, door = divmod(room, 2)
        if grid.style == "building":
            return f"{grid.estate}{grid.node.name}{unit + 1}单元{floor + 1}0{door + 1}室"
        building = grid.number * 2 + unit // 3
        return f"{grid.road}{building}号{unit % 3 + 1}单元{floor + 1}0{door + 1}室"

    def situation(self, rng: random.Random, members: list[Member], tags: list[str]) -> str:
        parts = [f"全家{len(members)}口人"]
        away = [m for m in members if m.works_away]
        if away:
            parts.append(f"{away[0].name}外出务工")
        if "elderly_alone" in tags:
            parts.append("老人独居，子女不在身边")
        elif "empty_nest" in tags:
            parts.append("老两口在家，子女在外")
        if "dibao" in tags:
            parts.append("享受低保")
        if "poverty_exited" in tags:
            parts.append("已脱贫，落实帮扶措施")
        if "monitored" in tags:
            parts.append("纳入防返贫监测")
        return "；".join(parts) + "。"

    @staticmethod
    def education_text(members: list[Member]) -> str:
        pupils = [m for m in members if 6 <= m.age <= 22 and m.relation in ("child", "grandchild")]
        stages = [(12, "小学"), (15, "初中"), (18, "高中"), (23, "大学")]
        return "；".join(f"{m.name}在读{next(s for a, s in stages if m.age < a)}" for m in pupils)

    @staticmethod
    def relations(rng: random.Random) -> str:
        if rng.random() < 0.1:
            return rng.choice(
                ("亲属在本村", "女儿嫁到邻村", "儿子在城区工作", "与邻居关系和睦", "兄弟在外地定居")
            )
        return ""

    # -- the village archive -----------------------------------------------------------------
    def archive(
        self, rng: random.Random, village: VillagePlan, urban: bool, party: int
    ) -> tuple[Any, ...]:
        def person(sex: str) -> str:
            year = rng.randint(1965, 1992)
            return names.surname(rng) + names.given_name(rng, sex, year)

        unit = "社区" if urban else "村"
        committee = "\n".join(
            [
                f"党组织书记、{unit}委会主任：{person('M')}",
                f"党组织副书记：{person('M' if rng.random() < 0.6 else 'F')}",
                f"{unit}委会委员：{person('F')}、{person('M')}、{person('M')}",
                f"后备干部：{person('M' if rng.random() < 0.5 else 'F')}",
            ]
        )
        sources = rng.sample(names.COLLECTIVE, 2)
        economy = (
            f"{self.today.year - 1}年{unit}集体经营性收入{rng.randint(15, 120)}万元，"
            f"主要来自{sources[0]}和{sources[1]}。"
        )
        branches = max(1, party // 40)
        party_text = (
            f"党组织下设{branches}个党支部，党员{party}名；"
            f"开展“四季菜单·暖心走访”，党员联系群众全覆盖。"
        )
        disputes = rng.randint(3, 40)
        solved = disputes - rng.randint(0, 3)
        stability = f"今年排查矛盾纠纷{disputes}起，已化解{solved}起，无越级上访。"
        plan = "\n".join(
            f"{i}. {item}" for i, item in enumerate(rng.sample(names.PLAN_ITEMS, 4), start=1)
        )
        area = Decimal(f"{rng.uniform(0.4, 3.0) if urban else rng.uniform(3.0, 12.0):.2f}")
        return (
            village.node.id,
            committee,
            economy,
            party_text,
            stability,
            plan,
            area,
            # 谯城区's area code; derived from the id so the random streams stay as they were.
            f"0558-5{village.node.id * 7919 % 1_000_000:06d}",
            1,
            self.task.stamp,
        )
