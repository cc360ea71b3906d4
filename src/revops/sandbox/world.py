"""A seeded synthetic company: ad accounts spending on campaigns, clicks becoming CRM contacts
that move through the funnel, sales rejecting some of them, deals won and lost.

The world is a set of *events with timestamps*. Every platform's sandbox server shows the world
**as of** a clock (``as_of``), the way the real API would have shown it at that moment: records
created later do not exist yet, stages reached later are not set yet, the last days of ad spend
are still provisional and restated later. This makes incremental syncs, lookback re-pulls and
merges testable against servers that really change between two runs.

Nothing here knows about the pipeline (only the registry's list of sources).
``revops.sandbox.truth`` computes the KPIs from these objects directly; the tests compare the
warehouse's marts to that.
"""

from __future__ import annotations

import bisect
import copy
import dataclasses
import functools
import math
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from zoneinfo import ZoneInfo

from revops.sources.registry import AD_PLATFORM, CRM, names_of_kind

STAGES = ("lead", "mql", "sql", "opportunity", "customer")
HUBSPOT_STAGE = {
    "subscriber": "subscriber",
    "lead": "lead",
    "mql": "marketingqualifiedlead",
    "sql": "salesqualifiedlead",
    "opportunity": "opportunity",
    "customer": "customer",
}
REJECTION_REASONS = (
    "No budget",
    "Wrong persona",
    "Student or job seeker",
    "Competitor",
    "Duplicate",
    "Bad contact data",
)
#: days before ``as_of`` whose ad numbers are still provisional (restated afterwards)
PROVISIONAL_DAYS = 2
#: share of the final numbers a provisional day shows
PROVISIONAL_SHARE = Decimal("0.85")
CENT = Decimal("0.01")


#: the ad platforms the world spends on (source names; ``offline`` is the finance team's CSV),
#: from the production registry, in its order (the order the world draws its accounts in)
AD_PLATFORMS = names_of_kind(AD_PLATFORM)
#: the CRMs a world can keep its funnel in (source names)
CRMS = names_of_kind(CRM)


@dataclass(frozen=True)
class AdAccount:
    platform: str
    account_id: str
    name: str
    currency: str
    #: the account's own time zone (IANA), as its settings show it
    timezone: str
    #: the zone whose midnight starts the platform's reporting day when it is not the account's
    #: own (LinkedIn analytics: UTC; Microsoft Advertising reports: UTC per its docs)
    report_day_zone: str | None = None

    @property
    def day_zone(self) -> str:
        """The zone in which this account's daily rows are bucketed."""
        return self.report_day_zone or self.timezone


@dataclass(frozen=True)
class Campaign:
    platform: str
    account_id: str
    campaign_id: str
    #: the name the campaign was created with (what UTM tags baked into ad URLs carry)
    name: str
    objective: str
    #: renames on the platform, ascending: (when, new name)
    renames: tuple[tuple[datetime, str], ...] = ()
    #: offline spend is booked in its own currency; None = the account's currency
    currency: str | None = None

    def name_as_of(self, as_of: datetime) -> str:
        """The name the platform shows at ``as_of``."""
        name = self.name
        for at, new in self.renames:
            if at <= as_of:
                name = new
        return name

    @property
    def current_name(self) -> str:
        return self.renames[-1][1] if self.renames else self.name


@dataclass(frozen=True)
class Ad:
    platform: str
    account_id: str
    campaign_id: str
    #: None for offline spend, which is booked per campaign
    ad_group_id: str | None
    ad_group_name: str | None
    ad_id: str | None
    ad_name: str | None


ACCOUNTS: dict[str, tuple[AdAccount, ...]] = {
    "meta": (
        AdAccount("meta", "1001", "Acme US", "USD", "America/Los_Angeles"),
        AdAccount("meta", "1002", "Acme EU", "EUR", "Europe/Berlin"),
    ),
    "google_ads": (  # customer ids: 10 digits, no dashes on the wire
        AdAccount("google_ads", "4815162342", "Acme Search US", "USD", "America/New_York"),
        AdAccount("google_ads", "2718281828", "Acme Search UK", "GBP", "Europe/London"),
    ),
    # LinkedIn ad accounts have no time zone field; adAnalytics days are UTC
    "linkedin": (AdAccount("linkedin", "508123456", "Acme B2B EMEA", "EUR", "UTC"),),
    # the account's setting is Pacific time, but report days are UTC per Microsoft's docs
    "microsoft_ads": (
        AdAccount("microsoft_ads", "180456789", "Acme Bing US", "USD", "America/Los_Angeles",
                  report_day_zone="UTC"),
    ),
    # finance's CSV carries a currency per row; dates are calendar days of the booking
    "offline": (AdAccount("offline", "offline", "Offline spend", "USD", "America/New_York"),),
}
ID_BASE = {"meta": 23850000000000001, "google_ads": 17000000001, "linkedin": 600000001,
           "microsoft_ads": 410000001}
THEMES = {
    "meta": ("Prospecting", "Retargeting", "Lookalike", "Webinar", "Ebook", "Demo Request"),
    "google_ads": ("Brand", "Generic", "Competitor"),
    "linkedin": ("ABM Enterprise", "Thought Leadership"),
    "microsoft_ads": ("Brand", "Generic"),
}
CAMPAIGN_NAME = {
    "meta": "{region} {theme} Q3",
    "google_ads": "Search - {theme} - {region}",
    "linkedin": "LI {theme} {region}",
    "microsoft_ads": "Bing - {theme} - {region}",
}
OBJECTIVE = {"meta": "OUTCOME_LEADS", "google_ads": "SEARCH", "linkedin": "LEAD_GENERATION",
             "microsoft_ads": "Search"}
REGION = {"USD": "US", "EUR": "EU", "GBP": "UK"}
#: (name, kind, currency) of the offline campaigns in finance's CSV
OFFLINE_CAMPAIGNS = (
    ("SaaStr Annual 2026", "events", "USD"),
    ("DevOps Weekly Sponsorship", "sponsorship", "GBP"),
    ("Trade Journal Print", "print", "EUR"),
)
RENAME_SUFFIX = {"meta": " - Always On", "google_ads": " (2026)"}
#: ad platforms whose ads carry URL tags the pipeline reads (Meta creative ``url_tags``, Google
#: Ads ``final_url_suffix``, Microsoft Advertising's ``FinalUrlSuffix`` report column); LinkedIn
#: ads carry none in this world
URL_TAG_PLATFORMS = ("meta", "google_ads", "microsoft_ads")


def offline_campaign_id(name: str) -> str:
    """Offline rows carry a campaign name, not an id: the id is its slug (documented in
    sources/offline/README.md and computed the same way by the connector)."""
    return "offline-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@dataclass(frozen=True)
class AdDay:
    """Final (restated) numbers of one ad on one account-local day."""

    ad: Ad
    day: date
    impressions: int
    clicks: int
    spend: Decimal  # account currency, 2 decimals
    platform_leads: int

    def as_seen(self, as_of: datetime, tz: str) -> AdDay | None:
        """The row as the platform reports it at ``as_of`` (``tz``: the zone its days are
        bucketed in); None if the day has not started there yet."""
        return self.seen_on(as_of.astimezone(ZoneInfo(tz)).date())

    def seen_on(self, local_today: date) -> AdDay | None:
        """:meth:`as_seen` on the day ``local_today`` is in the zone the days are bucketed in."""
        if self.day > local_today:
            return None
        if (local_today - self.day).days >= PROVISIONAL_DAYS:
            return self
        share = PROVISIONAL_SHARE
        return AdDay(
            ad=self.ad,
            day=self.day,
            impressions=int(self.impressions * share),
            clicks=int(self.clicks * share),
            spend=(self.spend * share).quantize(CENT, ROUND_HALF_UP),
            platform_leads=int(self.platform_leads * share),
        )


def ad_day_totals(days: Iterable[AdDay]) -> tuple[Decimal, int, int, int]:
    """Spend, impressions, clicks and platform leads of ``days``, added up in one pass (the
    ad sandboxes total a report row's days with it; four generators over them cost twice as
    much, and most rows are one ad's one day)."""
    spend = Decimal(0)
    impressions = clicks = leads = 0
    for d in days:
        spend += d.spend
        impressions += d.impressions
        clicks += d.clicks
        leads += d.platform_leads
    return spend, impressions, clicks, leads


@dataclass(frozen=True)
class Owner:
    owner_id: str
    email: str
    first_name: str
    last_name: str
    team: str
    user_id: int


@dataclass
class Contact:
    contact_id: int
    email: str
    first_name: str
    last_name: str
    created_at: datetime
    owner_id: str | None
    #: the ad campaign that truly produced this contact (None = organic / direct)
    source_campaign: Campaign | None
    #: what the CRM holds in its utm_campaign property (an id, a name spelled any which way, or None)
    utm_campaign: str | None
    #: unified stage -> timestamp (UTC) it was first entered; absent = never (yet)
    stage_at: dict[str, datetime] = field(default_factory=dict)
    subscriber_at: datetime | None = None
    rejected_at: datetime | None = None
    rejection_reason: str | None = None
    first_sales_touch_at: datetime | None = None
    #: set on the duplicate that disappears in a merge
    merged_into: int | None = None
    merged_at: datetime | None = None
    #: set on the survivor: the ids it absorbed
    absorbed: list[int] = field(default_factory=list)
    #: deleted (archived) in the CRM at this moment: gone from search, listed by
    #: ``archived=true``, and counted nowhere from then on (never set on merge survivors/losers)
    deleted_at: datetime | None = None
    #: the one CRM that holds this record; None = every CRM the company keeps (see
    #: ``WorldConfig.overlap_share``)
    crm: str | None = None
    #: set on a person's second record (in the other CRM): the id of the person's own record
    twin_of: int | None = None

    def events(self) -> list[datetime]:
        out = [self.created_at, *self.stage_at.values()]
        out += [t for t in (self.subscriber_at, self.rejected_at, self.first_sales_touch_at) if t]
        return out

    def visible(self, as_of: datetime) -> bool:
        if self.created_at > as_of or self.deleted_by(as_of):
            return False
        return not (self.merged_at is not None and self.merged_at <= as_of)

    def deleted_by(self, as_of: datetime) -> bool:
        return self.deleted_at is not None and self.deleted_at <= as_of

    def stage_as_of(self, stage: str, as_of: datetime) -> datetime | None:
        t = self.stage_at.get(stage)
        return t if t is not None and t <= as_of else None

    def last_modified(self, as_of: datetime, world: World) -> datetime:
        times = [t for t in self.events() if t <= as_of]
        for loser_id in self.absorbed:
            loser = world.contact_by_id[loser_id]
            if loser.merged_at is not None and loser.merged_at <= as_of:
                times.append(loser.merged_at)
        return max(times)

    def merged_ids_as_of(self, as_of: datetime, world: World) -> list[int]:
        return [
            i
            for i in self.absorbed
            if world.contact_by_id[i].merged_at is not None
            and world.contact_by_id[i].merged_at <= as_of
        ]


#: CRM activity kinds (HubSpot object types)
ACTIVITY_KINDS = ("calls", "emails", "meetings")
#: engagement ids: base + contact id * 10 + slot (ids are unique across the kinds, as HubSpot's)
ACTIVITY_ID_BASE = 40_000_000_000


@dataclass(frozen=True)
class Activity:
    """A call, email or meeting logged in the CRM, derived from a contact's story.

    Only ``is_sales_touch`` ones are the contact's first sales touch (an outbound call or a sent
    email by its owner at ``first_sales_touch_at``); the others are there so that "the earliest
    engagement of any kind" is wrong: an INCOMING_EMAIL from the contact, a meeting logged by
    marketing (a webinar, with a second attendee) and a meeting nobody owns."""

    kind: str  # calls | emails | meetings
    activity_id: int
    at: datetime  # hs_timestamp; logged at that moment
    owner_id: str | None
    #: hs_call_direction (INBOUND/OUTBOUND) or hs_email_direction (EMAIL/INCOMING_EMAIL)
    direction: str | None
    contact_ids: tuple[int, ...]
    is_sales_touch: bool = False


#: marketing-touch ids (form submissions / campaign responses): base + contact id * 100 + slot
TOUCH_ID_BASE = 70_000_000_000


@dataclass(frozen=True)
class Touch:
    """A marketing touch: a person responding to a campaign (a form submitted on a campaign's
    landing page; in Salesforce, a responded CampaignMember).

    A contact responds to a campaign at most once (its first response is the touch: Salesforce
    keeps one CampaignMember per lead and campaign, so both CRMs agree). The first touch of a
    contact with a source campaign is the form that created it, at ``created_at``."""

    touch_id: int
    #: the CRM record that made it (a merged-away duplicate's touches belong to its survivor)
    contact_id: int
    at: datetime
    campaign: Campaign
    #: what the form's hidden utm_campaign field carried (an id or a name spelled any which way,
    #: the name as of the touch: a campaign renamed later keeps its old name in old URLs)
    utm_campaign: str


@dataclass
class Deal:
    deal_id: int
    contact_id: int
    name: str
    created_at: datetime
    amount: Decimal  # reporting-currency portal (single currency)
    close_at: datetime | None  # when it closed (won or lost); None = stays open
    is_won: bool
    owner_id: str | None
    pipeline: str = "default"
    #: deleted (archived) in the CRM at this moment; counted nowhere from then on
    deleted_at: datetime | None = None
    #: more people associated with the deal in HubSpot (a buying committee, unlabeled like every
    #: deal -> contact association); ``contact_id`` stays the person whose deal it is
    committee: list[int] = field(default_factory=list)

    def visible(self, as_of: datetime) -> bool:
        return self.created_at <= as_of and not self.deleted_by(as_of)

    def deleted_by(self, as_of: datetime) -> bool:
        return self.deleted_at is not None and self.deleted_at <= as_of

    def is_closed_as_of(self, as_of: datetime) -> bool:
        return self.close_at is not None and self.close_at <= as_of

    def stage_as_of(self, as_of: datetime) -> str:
        if self.is_closed_as_of(as_of):
            return "closedwon" if self.is_won else "closedlost"
        age = (as_of - self.created_at).days
        return "appointmentscheduled" if age < 7 else "decisionmakerboughtin"

    def last_modified(self, as_of: datetime) -> datetime:
        times = [self.created_at]
        if self.is_closed_as_of(as_of):
            times.append(self.close_at)  # type: ignore[arg-type]
        stage_move = self.created_at + timedelta(days=7)
        if stage_move <= as_of and not (self.close_at and self.close_at <= stage_move):
            times.append(stage_move)
        return max(times)


@dataclass(frozen=True)
class WorldConfig:
    seed: int = 42
    start: date = date(2026, 6, 1)
    days: int = 90
    #: average CRM contacts per campaign per day: the size knob (benchmarks go large)
    contacts_per_campaign_day: float = 1.2
    #: extra organic contacts per day (no ad campaign)
    organic_per_day: float = 3.0
    campaigns_per_account: int = 3
    ad_groups_per_campaign: int = 2
    ads_per_group: int = 2
    #: ad platforms with spend (a world for a company that uses only some of them)
    platforms: tuple[str, ...] = AD_PLATFORMS
    #: the CRMs the company keeps its funnel in (their sandboxes serve the same people)
    crms: tuple[str, ...] = ("hubspot",)
    #: rename a Meta and a Google Ads campaign three days before the end
    rename_campaigns: bool = True
    #: share of contacts and of deals deleted in the CRM some days after their creation
    #: (drawn from their own random sequence: the rest of the world is the same with or without)
    delete_share: float = 0.01
    #: with two CRMs: None = both CRMs hold every person (the same records); a share = people are
    #: split between the CRMs, evenly, and that share of them is ALSO in the other CRM: a second
    #: record with the same email, created later (hours to days), showing a prefix of the
    #: person's lead/MQL/SQL stages each entered that much later (and the rejection, if any);
    #: their deals, touches and sales activities stay with the person's own record. Drawn from
    #: its own random sequence: the people and their stories are the same with or without.
    overlap_share: float | None = None

    @classmethod
    def ending_by(cls, clock: datetime, **kw) -> WorldConfig:
        """The config whose world is complete at ``clock`` (its :attr:`World.now` is not after
        it): the usual start date when that world already fits, else a start moved back just
        enough. A run's connectors read up to their own clock (the wall clock in a demo), so a
        world running past it would be served but never read (``--days 365`` loaded half the
        spend)."""
        cfg = cls(**kw)
        # World.now is noon UTC two days after the last day
        latest_end = (clock - timedelta(hours=12)).date() - timedelta(days=2)
        if cfg.start + timedelta(days=cfg.days - 1) <= latest_end:
            return cfg
        return dataclasses.replace(cfg, start=latest_end - timedelta(days=cfg.days - 1))


def _utc(d: date, tz: str, seconds: float) -> datetime:
    """``seconds`` after local midnight of ``d`` in ``tz``, as aware UTC."""
    local = datetime.combine(d, time(0), tzinfo=ZoneInfo(tz)) + timedelta(seconds=seconds)
    return local.astimezone(UTC)


class World:
    """Build with ``World(WorldConfig(...))``; deterministic for a config."""

    def __init__(self, config: WorldConfig | None = None):
        self.config = config or WorldConfig()
        self.rng = random.Random(self.config.seed)
        self.accounts: list[AdAccount] = []
        self.campaigns: list[Campaign] = []
        self.ads: list[Ad] = []
        self.ad_days: list[AdDay] = []
        self.owners: list[Owner] = []
        self.contacts: list[Contact] = []
        #: people's second records in the other CRM (``WorldConfig.overlap_share``): CRM records,
        #: not people; never in ``contacts``, so truth counts each person once
        self.twins: list[Contact] = []
        #: person id -> their own record as its CRM shows it, where the twin came first (the
        #: own record created and a lead later than the person): CRM records, not people
        self.own_records: dict[int, Contact] = {}
        self.deals: list[Deal] = []
        #: ECB reference rates: TARGET day -> currency -> units per EUR
        self.fx_rates: dict[date, dict[str, Decimal]] = {}
        #: touch id -> when marketing removed that response from the campaign (a Salesforce
        #: CampaignMember deleted from a live person; HubSpot form submissions are never removed).
        #: Empty unless a test removes one: the world's draws stay the same.
        self.removed_touches: dict[int, datetime] = {}
        #: platform -> ((as_of, rows in the world), its rows as of then, their days ascending,
        #: each one's position): ``ad_days_as_of``
        self._ad_days_seen: dict[str, tuple[tuple[datetime, int], list[AdDay], list[date], list[int]]] = {}
        #: ((as_of, rate days), publication dates ascending, rates): ``fx_rate``
        self._fx_seen: tuple[tuple[datetime, int], list[date], dict[date, dict[str, Decimal]]] | None = None
        self._build()

    # ------------------------------------------------------------------ build
    @property
    def start(self) -> date:
        return self.config.start

    @property
    def end(self) -> date:
        """Last day with activity (inclusive)."""
        return self.config.start + timedelta(days=self.config.days - 1)

    @property
    def now(self) -> datetime:
        """The default clock: the world's last day is complete everywhere on Earth."""
        return datetime.combine(self.end + timedelta(days=2), time(12), tzinfo=UTC)

    def nightly_clocks(self) -> list[datetime]:
        """Clocks of the nightly syncs a demo or a test replays: one night before the first
        campaign rename (so the old name is seen, as a company syncing every night sees it),
        then ``now``. A world without renames needs one night."""
        renames = [at for c in self.campaigns for at, _ in c.renames]
        if not renames:
            return [self.now]
        return [min(renames) - timedelta(hours=12), self.now]

    def _build(self) -> None:
        self._build_ads()
        self._build_fx()
        self._build_owners()
        self._build_contacts()
        self._build_merges()
        self._build_deals()
        self._build_deletions()
        self._build_overlap()

    def _build_ads(self) -> None:
        cfg = self.config
        for platform in AD_PLATFORMS:
            if platform not in cfg.platforms:
                continue
            accounts = list(ACCOUNTS[platform])
            self.accounts += accounts
            if platform == "offline":
                self._build_offline(accounts[0])
                continue
            next_id = ID_BASE[platform]
            themes = THEMES[platform]
            per_account = cfg.campaigns_per_account if platform == "meta" else min(2, cfg.campaigns_per_account)
            for acct in accounts:
                for c in range(per_account):
                    theme = themes[(c + int(acct.account_id)) % len(themes)]
                    camp = Campaign(
                        platform,
                        acct.account_id,
                        str(next_id),
                        CAMPAIGN_NAME[platform].format(theme=theme, region=REGION[acct.currency]),
                        OBJECTIVE[platform],
                    )
                    next_id += 1
                    self.campaigns.append(camp)
                    for g in range(cfg.ad_groups_per_campaign):
                        group_id = str(next_id)
                        next_id += 1
                        for a in range(cfg.ads_per_group):
                            self.ads.append(
                                Ad(
                                    platform,
                                    acct.account_id,
                                    camp.campaign_id,
                                    group_id,
                                    f"{camp.name} / Audience {g + 1}",
                                    str(next_id),
                                    f"{camp.name} / Creative {g + 1}.{a + 1}",
                                )
                            )
                            next_id += 1
        self._rename_campaigns()
        rng = self.rng
        for ad in self.ads:
            if ad.platform == "offline":
                continue
            base = rng.uniform(40, 160)  # daily budget in account currency
            for i in range(cfg.days):
                day = cfg.start + timedelta(days=i)
                if rng.random() < 0.06:  # paused / no delivery: the platform sends no row
                    continue
                spend = Decimal(str(round(base * rng.uniform(0.6, 1.3), 2))).quantize(CENT)
                cpm = rng.uniform(6, 22)
                impressions = max(1, int(float(spend) / cpm * 1000))
                clicks = int(impressions * rng.uniform(0.004, 0.02))
                leads = int(clicks * rng.uniform(0.02, 0.1))
                self.ad_days.append(AdDay(ad, day, impressions, clicks, spend, leads))

    def _build_offline(self, acct: AdAccount) -> None:
        """Finance's CSV: an event (a few big days), a monthly sponsorship, a weekly print ad,
        each in its own currency, booked per campaign (no ad groups, no ads)."""
        cfg, rng = self.config, self.rng
        for name, kind, currency in OFFLINE_CAMPAIGNS:
            camp = Campaign("offline", acct.account_id, offline_campaign_id(name), name, kind,
                            currency=currency)
            self.campaigns.append(camp)
            ad = Ad("offline", acct.account_id, camp.campaign_id, None, None, None, None)
            self.ads.append(ad)
            for i in range(cfg.days):
                day = cfg.start + timedelta(days=i)
                if kind == "events":
                    first = cfg.days // 3
                    if not first <= i < first + 3:
                        continue
                    amount = rng.uniform(4000, 15000)
                elif kind == "sponsorship":
                    if day.day != 1 and i != 0:
                        continue
                    amount = 2500.0
                else:  # print: every Monday
                    if day.weekday() != 0:
                        continue
                    amount = rng.uniform(700, 1100)
                spend = Decimal(str(round(amount, 2))).quantize(CENT)
                self.ad_days.append(AdDay(ad, day, 0, 0, spend, 0))

    def _rename_campaigns(self) -> None:
        """Three days before the world's end, marketing renames the first Meta and the first
        Google Ads campaign. UTM tags already in ad URLs keep the old name: only a name history
        (names seen by earlier nightly syncs) resolves them."""
        if self.config.days < 5 or not self.config.rename_campaigns:
            return
        at = datetime.combine(self.end - timedelta(days=3), time(15), tzinfo=UTC)
        renamed: set[str] = set()
        for i, camp in enumerate(self.campaigns):
            suffix = RENAME_SUFFIX.get(camp.platform)
            if suffix is None or camp.platform in renamed:
                continue
            renamed.add(camp.platform)
            self.campaigns[i] = dataclasses.replace(camp, renames=((at, f"{camp.name}{suffix}"),))

    def _build_owners(self) -> None:
        names = [
            ("Dana", "Reyes", "SDR East"),
            ("Sam", "Okafor", "SDR East"),
            ("Lea", "Novak", "SDR West"),
            ("Ken", "Ito", "SDR West"),
            ("Mia", "Larsen", "Account Executives"),
            # logs webinars and events as meetings: never a sales touch
            ("Noa", "Berg", "Marketing"),
        ]
        for i, (first, last, team) in enumerate(names):
            self.owners.append(
                Owner(
                    str(70000001 + i),
                    f"{first.lower()}.{last.lower()}@acme.example",
                    first,
                    last,
                    team,
                    9100 + i,
                )
            )

    def _utm_for(self, camp: Campaign) -> str:
        """Real accounts mix conventions: the id, or the name in whatever case/spacing."""
        r = self.rng.random()
        if r < 0.55:
            return camp.campaign_id
        if r < 0.8:
            return camp.name.lower()
        return f"  {camp.name.upper()} "

    def _new_contact(self, created: datetime, camp: Campaign | None) -> Contact:
        cid = 100001 + len(self.contacts)
        first = self.rng.choice(["Alex", "Jordan", "Casey", "Riley", "Morgan", "Taylor", "Jamie"])
        last = self.rng.choice(["Smith", "Garcia", "Müller", "Rossi", "Dubois", "Kowalski", "Kim"])
        sdrs = [o for o in self.owners if o.team.startswith("SDR")]
        contact = Contact(
            contact_id=cid,
            email=f"{first.lower()}.{last.lower()}.{cid}@example.org",
            first_name=first,
            last_name=last,
            created_at=created,
            owner_id=self.rng.choice(sdrs).owner_id if self.rng.random() < 0.9 else None,
            source_campaign=camp,
            utm_campaign=self._utm_for(camp) if camp else None,
        )
        self.contacts.append(contact)
        return contact

    def _funnel(self, c: Contact) -> None:
        rng = self.rng
        h = timedelta(hours=1)
        if rng.random() < 0.1:
            c.subscriber_at = c.created_at
            lead_at = c.created_at + h * rng.uniform(2, 120)
        else:
            lead_at = c.created_at
        c.stage_at["lead"] = lead_at
        if rng.random() >= 0.45:
            return
        mql_at = lead_at + h * rng.uniform(0.2, 96)
        c.stage_at["mql"] = mql_at
        if rng.random() < 0.85:
            c.first_sales_touch_at = mql_at + h * rng.lognormvariate(2.2, 1.0)
        decision = rng.random()
        decided_at = (c.first_sales_touch_at or mql_at) + h * rng.uniform(1, 72)
        if decision < 0.25:
            c.rejected_at = decided_at
            c.rejection_reason = rng.choice(REJECTION_REASONS)
            return
        if decision < 0.4:
            return  # pending: sales has not decided
        c.stage_at["sql"] = decided_at
        if rng.random() >= 0.55:
            return
        c.stage_at["opportunity"] = decided_at + h * rng.uniform(24, 240)

    def _build_contacts(self) -> None:
        cfg = self.config
        rng = self.rng
        acct_tz = {(a.platform, a.account_id): a.day_zone for a in self.accounts}
        for i in range(cfg.days):
            day = cfg.start + timedelta(days=i)
            for camp in self.campaigns:
                n = _poisson(rng, cfg.contacts_per_campaign_day)
                for _ in range(n):
                    created = _utc(day, acct_tz[(camp.platform, camp.account_id)], rng.uniform(0, 86399))
                    self._funnel(self._new_contact(created, camp))
            for _ in range(_poisson(rng, cfg.organic_per_day)):
                created = _utc(day, "UTC", rng.uniform(0, 86399))
                self._funnel(self._new_contact(created, None))
        self.contacts.sort(key=lambda c: c.contact_id)

    def _build_merges(self) -> None:
        """About 2% of contacts filled a form twice; the CRM merges the duplicate later."""
        rng = self.rng
        originals = list(self.contacts)
        for orig in originals:
            if rng.random() >= 0.02:
                continue
            dup_created = orig.created_at + timedelta(hours=rng.uniform(1, 48))
            dup = self._new_contact(dup_created, orig.source_campaign)
            dup.email = orig.email.replace("@", "+1@")
            self._funnel(dup)
            dup.merged_into = orig.contact_id
            dup.merged_at = dup_created + timedelta(days=rng.uniform(1, 10))
            orig.absorbed.append(dup.contact_id)

    def _build_deals(self) -> None:
        rng = self.rng
        aes = [o for o in self.owners if o.team == "Account Executives"]
        for c in self.contacts:
            opp_at = c.stage_at.get("opportunity")
            if opp_at is None or c.merged_into is not None:
                continue
            amount = Decimal(rng.choice([4800, 9600, 12000, 18000, 24000, 36000, 60000]))
            amount += Decimal(rng.randint(0, 99)) * 10
            outcome = rng.random()
            close_at: datetime | None = None
            won = False
            if outcome < 0.4:
                won = True
                close_at = opp_at + timedelta(days=rng.uniform(7, 60))
                c.stage_at["customer"] = close_at
            elif outcome < 0.75:
                close_at = opp_at + timedelta(days=rng.uniform(5, 50))
            self.deals.append(
                Deal(
                    deal_id=5000001 + len(self.deals),
                    contact_id=c.contact_id,
                    name=f"{c.last_name} - Acme Platform",
                    created_at=opp_at,
                    amount=amount,
                    close_at=close_at,
                    is_won=won,
                    owner_id=rng.choice(aes).owner_id,
                )
            )

    def _build_deletions(self) -> None:
        """About ``delete_share`` of contacts and of deals are deleted in the CRM half a day to
        14 days after their creation (possibly after the world's clock: not deleted yet). Never a merge
        survivor or duplicate, never a contact with a deal (its deal would lose its person).
        Every CRM sandbox serves them (HubSpot's ``archived=true``, Salesforce's ``queryAll`` with
        ``IsDeleted``), so the draws are the same whatever CRMs the company keeps."""
        share = self.config.delete_share
        if share <= 0:
            return
        rng = random.Random(self.config.seed + 2)  # independent of the rest of the world
        with_deal = {d.contact_id for d in self.deals}
        for c in self.contacts:
            draw, days = rng.random(), rng.uniform(0.5, 14)
            if c.absorbed or c.merged_into is not None or c.contact_id in with_deal:
                continue
            if draw < share:
                c.deleted_at = c.created_at + timedelta(days=days)
        for d in self.deals:
            draw, days = rng.random(), rng.uniform(0.5, 14)
            if draw < share:
                d.deleted_at = d.created_at + timedelta(days=days)

    def _build_overlap(self) -> None:
        """With two CRMs and an ``overlap_share``: each person's record lives in one CRM (drawn
        evenly; a merged duplicate where its survivor is) and a share of the people have a second
        record in the other CRM (a twin: same email, lead source and owner). Half the twins come
        LATER (created 1-120 hours after the person; the first 1-3 of the person's lead/MQL/SQL
        stages, each entered that much later; the rejection too when it shows the MQL but not
        the SQL). The other half come FIRST: the other CRM captured the person earlier (created
        1-120 hours before the lead moment, a subscriber until it, a lead exactly when the person
        became one) and the person's own record is created and becomes a lead later (still
        before the MQL), while every later stage, deal, touch and activity stays the person's
        own. Either way each stage time of the person is the earliest across the two records, so
        the people, their stories and the truth are those of the world without overlap. Never
        for a deleted person or a merge survivor (their records' stories stay the CRM's own)."""
        share = self.config.overlap_share
        crms = [c for c in CRMS if c in self.config.crms]
        if share is None or len(crms) < 2:
            return
        rng = random.Random(self.config.seed + 4)  # independent of the rest of the world
        next_id = 100001 + len(self.contacts)
        for c in self.contacts:
            if c.merged_into is not None:
                continue
            home_draw, both_draw, lag_hours, depth_draw, first_draw, shift_draw = (
                rng.random(), rng.random(), rng.uniform(1, 120), rng.random(), rng.random(),
                rng.uniform(0.05, 0.9))
            c.crm = crms[min(int(home_draw * len(crms)), len(crms) - 1)]
            if both_draw >= share or c.deleted_at is not None or c.absorbed:
                continue
            other = next(x for x in crms if x != c.crm)
            lag = timedelta(hours=lag_hours)
            lead_at = c.stage_at["lead"]
            twin = Contact(
                contact_id=next_id,
                email=c.email,
                first_name=c.first_name,
                last_name=c.last_name,
                created_at=c.created_at + lag,
                owner_id=c.owner_id,
                source_campaign=c.source_campaign,
                utm_campaign=c.utm_campaign,
                crm=other,
                twin_of=c.contact_id,
            )
            if first_draw < 0.5:
                twin.created_at = lead_at - lag
                twin.subscriber_at = twin.created_at
                twin.stage_at = {"lead": lead_at}
                mql_at = c.stage_at.get("mql")
                shift = (mql_at - lead_at) * shift_draw if mql_at else lag * shift_draw
                own = dataclasses.replace(c, stage_at={**c.stage_at, "lead": lead_at + shift},
                                          created_at=c.created_at + shift,
                                          subscriber_at=c.subscriber_at and c.subscriber_at + shift)
                self.own_records[c.contact_id] = own
            else:
                stages = [s for s in ("lead", "mql", "sql") if s in c.stage_at]
                shown = stages[: 1 + int(depth_draw * len(stages))]
                twin.stage_at = {s: c.stage_at[s] + lag for s in shown}
                twin.subscriber_at = c.created_at + lag if c.subscriber_at else None
                if c.rejected_at is not None and "mql" in shown and "sql" not in shown:
                    twin.rejected_at = c.rejected_at + lag
                    twin.rejection_reason = c.rejection_reason
            self.twins.append(twin)
            next_id += 1
        for c in self.contacts:
            if c.merged_into is not None:
                c.crm = self.contact_by_id[c.merged_into].crm

    def records_of(self, person: Contact) -> list[Contact]:
        """A person's CRM records (their own, as its CRM shows it, and a twin in the other CRM,
        if any), first created first."""
        own = self.own_records.get(person.contact_id, person)
        twins = [t for t in self.twins if t.twin_of == person.contact_id]
        return sorted([own, *twins], key=lambda r: (r.created_at, r.contact_id))

    def crm_view(self, crm: str) -> World:
        """The world as one CRM holds it: its records (people's own and twins), the deals of
        its people, their touches and activities. The world itself when every CRM holds
        everyone (no ``overlap_share``)."""
        if not any(c.crm for c in self.contacts):
            return self
        view = copy.copy(self)
        for name in ("contact_by_id", "activities", "touches", "_touches_by_contact"):
            view.__dict__.pop(name, None)
        records = [self.own_records.get(c.contact_id, c) for c in self.contacts] + self.twins
        view.contacts = sorted((c for c in records if c.crm in (None, crm)),
                               key=lambda c: c.contact_id)
        view.twins = []
        view.own_records = {}
        ids = {c.contact_id for c in view.contacts}
        view.deals = [d for d in self.deals if d.contact_id in ids]
        view.__dict__["activities"] = [
            dataclasses.replace(a, contact_ids=tuple(i for i in a.contact_ids if i in ids))
            for a in self.activities if a.contact_ids[0] in ids]
        view.__dict__["touches"] = [t for t in self.touches if t.contact_id in ids]
        return view

    def crm_records_as_of(self, as_of: datetime) -> list[Contact]:
        """Every CRM record visible at ``as_of``, in every CRM that holds it (a person in two
        CRMs twice): what the marts must NOT count."""
        out = []
        for c in [*(self.own_records.get(c.contact_id, c) for c in self.contacts), *self.twins]:
            if c.visible(as_of):
                out += [c] * (len(self.config.crms) if c.crm is None else 1)
        return out

    @cached_property
    def activities(self) -> list[Activity]:
        """CRM activities derived from the contacts (no random draws: the world is unchanged).

        Merged-away duplicates have none (truth counts the survivor's own touch), and nothing
        is logged on a contact at or after its deletion."""
        marketing = next((o.owner_id for o in self.owners if o.team == "Marketing"), None)
        fallback = self.owners[0].owner_id
        out: list[Activity] = []
        people = [c for c in self.contacts if c.merged_into is None]
        for i, c in enumerate(people):
            def alive(t: datetime, c: Contact = c) -> bool:
                return c.deleted_at is None or t < c.deleted_at

            base = ACTIVITY_ID_BASE + c.contact_id * 10
            touch = c.first_sales_touch_at
            until = touch if touch is not None else c.created_at + timedelta(days=2)
            span = until - c.created_at
            if touch is not None and alive(touch):
                call = c.contact_id % 2 == 1
                out.append(Activity("calls" if call else "emails", base + 1, touch,
                                    c.owner_id or fallback, "OUTBOUND" if call else "EMAIL",
                                    (c.contact_id,), is_sales_touch=True))
            if c.contact_id % 3 == 0 and "mql" in c.stage_at:
                at = c.created_at + span / 2  # the contact writes in before anyone calls
                if alive(at):
                    out.append(Activity("emails", base + 2, at, c.owner_id, "INCOMING_EMAIL",
                                        (c.contact_id,)))
            if c.contact_id % 5 == 0:
                at = c.created_at + min(timedelta(minutes=30), span / 3)
                others = [o.contact_id for o in people[max(0, i - 5):i]
                          if o.created_at <= at and o.deleted_at is None]
                if alive(at):
                    out.append(Activity("meetings", base + 3, at, marketing, None,
                                        (c.contact_id, *others[-1:])))
            if c.contact_id % 7 == 0:
                at = c.created_at + span * 0.75
                if alive(at):
                    out.append(Activity("meetings", base + 4, at, None, None, (c.contact_id,)))
        return out

    @cached_property
    def touches(self) -> list[Touch]:
        """Marketing touches, drawn from their own random sequence (the rest of the world is the
        same with or without them): the source campaign's form at creation, then each contact
        responds to 0-4 other campaigns over the next two weeks. Nothing after a contact's deletion
        or merge, or after the world's last day."""
        rng = random.Random(self.config.seed + 3)
        last = datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=UTC)
        out: list[Touch] = []
        for c in self.contacts:
            stop = min(t for t in (c.deleted_at, c.merged_at, last) if t is not None)
            base = TOUCH_ID_BASE + c.contact_id * 100
            n_extra = min(4, _poisson(rng, 1.5))
            others = [k for k in self.campaigns if k is not c.source_campaign]
            picks = rng.sample(others, min(n_extra, len(others)))
            offsets = sorted(rng.uniform(0.05, 16) for _ in picks)
            styles = [rng.random() for _ in picks]
            touches = []
            if c.source_campaign is not None:
                touches.append((c.created_at, c.source_campaign, c.utm_campaign or ""))
            for camp, days, style in zip(picks, offsets, styles, strict=True):
                at = c.created_at + timedelta(days=days)
                name = camp.name_as_of(at)
                if camp.platform == "offline" or style >= 0.6:
                    utm = name.lower() if style < 0.85 else f" {name.upper()}"
                else:
                    utm = camp.campaign_id
                touches.append((at, camp, utm))
            for slot, (at, camp, utm) in enumerate(touches, start=1):
                if at < stop:
                    out.append(Touch(base + slot, c.contact_id, at, camp, utm))
        return out

    @cached_property
    def ad_utm_campaign(self) -> dict[str, str]:
        """ad_id -> the ``utm_campaign`` value baked into the ad's URL tags when it was made (Meta
        creative ``url_tags``, Google Ads ``final_url_suffix``): its campaign's name at creation
        (the name the campaign's contacts carry) or its id, the conventions real accounts mix
        (Meta creative ``url_tags``, Google Ads ``final_url_suffix``, Microsoft Advertising
        ``FinalUrlSuffix``).
        The first ad of each campaign carries the name, so every spelling of a campaign's
        contacts is on at least one of its ads. Only platforms whose API exposes URL tags to the
        pipeline (:data:`URL_TAG_PLATFORMS`). Drawn from its own random sequence: the rest of the
        world is the same with or without it."""
        rng = random.Random(self.config.seed + 4)
        out: dict[str, str] = {}
        named: set[str] = set()
        for ad in self.ads:
            if ad.platform not in URL_TAG_PLATFORMS or ad.ad_id is None:
                continue
            camp = self.campaign_by_id[ad.campaign_id]
            by_name = ad.campaign_id not in named or rng.random() < 0.5
            named.add(ad.campaign_id)
            out[ad.ad_id] = camp.name if by_name else camp.campaign_id
        return out

    def person_touches(self, contact: Contact, as_of: datetime) -> list[Touch]:
        """A person's touches seen at ``as_of``: its own and those of the duplicates merged into
        it by then (not removed by then), one per campaign (the earliest), in time order."""
        ids = {contact.contact_id, *contact.merged_ids_as_of(as_of, self)}
        first: dict[str, Touch] = {}
        for t in self.touches_by_contact_ids(ids):
            if self.touch_removed(t, as_of):
                continue
            if t.at <= as_of and (t.campaign.campaign_id not in first
                                  or t.at < first[t.campaign.campaign_id].at):
                first[t.campaign.campaign_id] = t
        return sorted(first.values(), key=lambda t: (t.at, t.touch_id))

    def touch_removed(self, touch: Touch, as_of: datetime) -> bool:
        """Removed from its campaign by ``as_of`` (``removed_touches``)."""
        at = self.removed_touches.get(touch.touch_id)
        return at is not None and at <= as_of

    def touches_by_contact_ids(self, ids: set[int]) -> list[Touch]:
        return [t for i in ids for t in self._touches_by_contact.get(i, ())]

    @cached_property
    def _touches_by_contact(self) -> dict[int, list[Touch]]:
        out: dict[int, list[Touch]] = {}
        for t in self.touches:
            out.setdefault(t.contact_id, []).append(t)
        return out

    # ------------------------------------------------------------------ views
    @cached_property
    def contact_by_id(self) -> dict[int, Contact]:
        return {c.contact_id: c for c in self.contacts}

    @cached_property
    def account_by_id(self) -> dict[tuple[str, str], AdAccount]:
        return {(a.platform, a.account_id): a for a in self.accounts}

    @cached_property
    def ad_by_id(self) -> dict[str, Ad]:
        return {a.ad_id: a for a in self.ads if a.ad_id is not None}

    @cached_property
    def campaign_by_id(self) -> dict[str, Campaign]:
        return {c.campaign_id: c for c in self.campaigns}

    def replace_ad_day(self, index: int, row: AdDay) -> AdDay:
        """Replace ``self.ad_days[index]`` (a platform restating a day, as a test scripts it)
        and forget the kept answers of :meth:`ad_days_as_of`; returns the row replaced."""
        old, self.ad_days[index] = self.ad_days[index], row
        self._ad_days_seen.clear()
        return old

    def ad_days_as_of(self, as_of: datetime, platform: str = "meta", since: date | None = None,
                      until: date | None = None) -> list[AdDay]:
        """``platform``'s rows as its API shows them at ``as_of`` (its own day boundary); with
        ``since``/``until``, only the rows of those days (inclusive), in the same order.

        The last answer per platform is kept, with its rows' order by day (callers only read
        it): every page a sandbox serves asks again, and a large world has millions of rows to
        look through."""
        key = (as_of, len(self.ad_days))
        kept = self._ad_days_seen.get(platform)
        if kept is None or kept[0] != key:
            out = []
            # each account's local day, once, not the clock converted for every row: Meta's
            # rows of the large bench's world at scale 0.1 took 0.25 s a clock, now 0.11 s
            today: dict[str, date] = {}
            for row in self.ad_days:
                if row.ad.platform != platform:
                    continue
                local_today = today.get(row.ad.account_id)
                if local_today is None:
                    tz = self.account_by_id[(platform, row.ad.account_id)].day_zone
                    local_today = today[row.ad.account_id] = as_of.astimezone(ZoneInfo(tz)).date()
                seen = row.seen_on(local_today)
                if seen is not None:
                    out.append(seen)
            by_day = sorted(range(len(out)), key=lambda i: out[i].day)
            kept = (key, out, [out[i].day for i in by_day], by_day)
            self._ad_days_seen[platform] = kept
        _, rows, days, positions = kept
        if since is None and until is None:
            return rows
        lo = 0 if since is None else bisect.bisect_left(days, since)
        hi = len(days) if until is None else bisect.bisect_right(days, until)
        return [rows[i] for i in sorted(positions[lo:hi])]

    def currency_of(self, ad: Ad) -> str:
        """The currency an ad's spend is booked in (offline campaigns carry their own)."""
        camp = self.campaign_by_id[ad.campaign_id]
        return camp.currency or self.account_by_id[(ad.platform, ad.account_id)].currency

    @property
    def ad_platforms(self) -> list[str]:
        return [p for p in AD_PLATFORMS if p in self.config.platforms]

    # ------------------------------------------------------------------ FX (ECB)
    def _build_fx(self) -> None:
        """ECB euro reference rates on TARGET working days around the world's span: a random
        walk per currency, rounded the way the ECB publishes (JPY 2 places, others 4-5)."""
        rng = random.Random(self.config.seed + 1)  # independent of the rest of the world
        level = dict(FX_START)
        day = self.start - timedelta(days=14)
        while day <= self.end + timedelta(days=7):
            if is_target_day(day):
                quotes: dict[str, Decimal] = {}
                for cur in FX_START:
                    level[cur] *= 1 + rng.gauss(0, 0.003)
                    quotes[cur] = Decimal(str(level[cur])).quantize(FX_PLACES[cur], ROUND_HALF_UP)
                self.fx_rates[day] = quotes
            day += timedelta(days=1)

    def fx_published_as_of(self, as_of: datetime) -> dict[date, dict[str, Decimal]]:
        """Rates the ECB had published at ``as_of`` (each around 16:00 CET on its day)."""
        return {d: q for d, q in self.fx_rates.items() if fx_published_at(d) <= as_of}

    def fx_rate(self, currency: str, day: date, as_of: datetime) -> tuple[date, Decimal]:
        """(rate date, units of ``currency`` per EUR) to convert an amount of ``day``: the last
        publication on or before ``day``. KeyError when it does not quote ``currency`` (never a
        silent 1, never an older rate than the publication the other leg uses)."""
        dates, published = self._fx_dates_as_of(as_of)
        i = bisect.bisect_right(dates, day)  # the publications on or before ``day``: dates[:i]
        if i and currency == "EUR":
            return dates[i - 1], Decimal(1)
        if not i or currency not in published[dates[i - 1]]:
            raise KeyError(f"no ECB rate for {currency} on or before {day}")
        d = dates[i - 1]
        return d, published[d][currency]

    def _fx_dates_as_of(self, as_of: datetime) -> tuple[list[date], dict[date, dict[str, Decimal]]]:
        """The publication dates at ``as_of``, ascending, and the rates; the last answer kept
        (the truth converts every spend row at one clock: two years of rows against two years
        of dates)."""
        key = (as_of, len(self.fx_rates))
        if self._fx_seen is None or self._fx_seen[0] != key:
            published = self.fx_published_as_of(as_of)
            self._fx_seen = (key, sorted(published), published)
        return self._fx_seen[1], self._fx_seen[2]

    def to_currency(
        self, amount: Decimal, currency: str, target: str, day: date, as_of: datetime
    ) -> Decimal:
        """Convert at one date's rates (both legs from the same publication); an amount already
        in ``target`` needs no rate."""
        if currency == target:
            return amount
        rate_date, from_rate = self.fx_rate(currency, day, as_of)
        if target == "EUR":
            return amount / from_rate
        if currency == "EUR":
            _, to_rate = self.fx_rate(target, day, as_of)
            return amount * to_rate
        _, to_rate = self.fx_rate(target, rate_date, as_of)
        return amount / from_rate * to_rate

    def contacts_as_of(self, as_of: datetime) -> list[Contact]:
        return [c for c in self.contacts if c.visible(as_of)]

    def deals_as_of(self, as_of: datetime) -> list[Deal]:
        return [d for d in self.deals if d.visible(as_of)]

    def changed_between(self, since: datetime, until: datetime) -> tuple[list[Contact], list[Deal]]:
        """The contacts and deals a CRM shows as new or changed after ``since`` up to ``until``
        (created, a stage entered, a duplicate merged in: a later last-modified time; or merged
        away or deleted in between): what a nightly sync at ``until`` after one at ``since`` has
        to read."""
        def between(t: datetime | None) -> bool:
            return t is not None and since < t <= until

        contacts = [c for c in self.contacts if c.created_at <= until and (
            c.last_modified(until, self) > since or between(c.merged_at) or between(c.deleted_at))]
        deals = [d for d in self.deals if d.created_at <= until and (
            d.last_modified(until) > since or between(d.deleted_at))]
        return contacts, deals


FX_START = {"USD": 1.085, "GBP": 0.842, "JPY": 162.4, "CHF": 0.9415}
FX_PLACES = {"USD": Decimal("0.0001"), "GBP": Decimal("0.00001"), "JPY": Decimal("0.01"),
             "CHF": Decimal("0.0001")}


def easter_sunday(year: int) -> date:
    """Gregorian Easter (anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return date(year, month, day)


def target_holidays(year: int) -> set[date]:
    """TARGET2 closing days: 1 Jan, Good Friday, Easter Monday, 1 May, 25 and 26 Dec."""
    easter = easter_sunday(year)
    return {
        date(year, 1, 1), easter - timedelta(days=2), easter + timedelta(days=1),
        date(year, 5, 1), date(year, 12, 25), date(year, 12, 26),
    }


def is_target_day(day: date) -> bool:
    """A day the ECB publishes reference rates."""
    return day.weekday() < 5 and day not in target_holidays(day.year)


@functools.cache  # pure, and asked for every spend row the truth converts
def fx_published_at(day: date) -> datetime:
    """The ECB publishes around 16:00 CET/CEST."""
    return datetime.combine(day, time(16), tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth for the small rates used here; the normal approximation for large worlds.
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, lam**0.5))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
