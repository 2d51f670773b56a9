"""Microsoft's time zone names and the IANA zones they stand for.

Reporting's `ReportTimeZone` (75 values, WSDL order) and Customer Management's `TimeZoneType` (an account's
`TimeZone`) name the same zones, except four that Customer Management spells differently; `report_time_zone()`
translates. Microsoft publishes no IANA mapping: the one below is ours, chosen from each name's cities (the zone
that observes the same offset and daylight-saving rules today).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

DEFAULT_REPORT_TIME_ZONE = "PacificTimeUSCanadaTijuana"  # Microsoft's default when ReportTimeZone is not set

# ReportTimeZone value -> IANA zone, in WSDL order.
REPORT_TIME_ZONES: dict[str, str] = {
    "Nukualofa": "Pacific/Tongatapu",
    "FijiKamchatkaMarshallIsland": "Pacific/Fiji",
    "AucklandWellington": "Pacific/Auckland",
    "MagadanSolomonIslandNewCaledonia": "Pacific/Guadalcanal",
    "Vladivostok": "Asia/Vladivostok",
    "Hobart": "Australia/Hobart",
    "GuamPortMoresby": "Pacific/Port_Moresby",
    "CanberraMelbourneSydney": "Australia/Sydney",
    "Brisbane": "Australia/Brisbane",
    "Darwin": "Australia/Darwin",
    "Adelaide": "Australia/Adelaide",
    "Yakutsk": "Asia/Yakutsk",
    "Seoul": "Asia/Seoul",
    "OsakaSapporoTokyo": "Asia/Tokyo",
    "Taipei": "Asia/Taipei",
    "Perth": "Australia/Perth",
    "KualaLumpurSingapore": "Asia/Singapore",
    "IrkutskUlaanBataar": "Asia/Irkutsk",
    "BeijingChongqingHongKongUrumqi": "Asia/Shanghai",
    "Krasnoyarsk": "Asia/Krasnoyarsk",
    "BangkokHanoiJakarta": "Asia/Bangkok",
    "Rangoon": "Asia/Yangon",
    "SriJayawardenepura": "Asia/Colombo",
    "AstanaDhaka": "Asia/Dhaka",
    "AlmatyNovosibirsk": "Asia/Almaty",
    "Kathmandu": "Asia/Kathmandu",
    "ChennaiKolkataMumbaiNewDelhi": "Asia/Kolkata",
    "IslandamabadKarachiTashkent": "Asia/Karachi",
    "Ekaterinburg": "Asia/Yekaterinburg",
    "Kabul": "Asia/Kabul",
    "BakuTbilisiYerevan": "Asia/Baku",
    "AbuDhabiMuscat": "Asia/Dubai",
    "Tehran": "Asia/Tehran",
    "Nairobi": "Africa/Nairobi",
    "MoscowStPetersburgVolgograd": "Europe/Moscow",
    "KuwaitRiyadh": "Asia/Riyadh",
    "Baghdad": "Asia/Baghdad",
    "Jerusalem": "Asia/Jerusalem",
    "HelsinkiKyivRigaSofiaTallinnVilnius": "Europe/Helsinki",
    "HararePretoria": "Africa/Johannesburg",
    "Cairo": "Africa/Cairo",
    "Bucharest": "Europe/Bucharest",
    "AthensIslandanbulMinsk": "Europe/Athens",
    "WestCentralAfrica": "Africa/Lagos",
    "SarajevoSkopjeWarsawZagreb": "Europe/Warsaw",
    "BrusselsCopenhagenMadridParis": "Europe/Paris",
    "BelgradeBratislavaBudapestLjubljanaPrague": "Europe/Prague",
    "AmsterdamBerlinBernRomeStockholmVienna": "Europe/Berlin",
    "CasablancaMonrovia": "Africa/Casablanca",
    "GreenwichMeanTimeDublinEdinburghLisbonLondon": "Europe/London",
    "Azores": "Atlantic/Azores",
    "CapeVerdeIsland": "Atlantic/Cape_Verde",
    "MidAtlantic": "Atlantic/South_Georgia",
    "Brasilia": "America/Sao_Paulo",
    "BuenosAiresGeorgetown": "America/Argentina/Buenos_Aires",
    "Greenland": "America/Nuuk",
    "Newfoundland": "America/St_Johns",
    "AtlanticTimeCanada": "America/Halifax",
    "CaracasLaPaz": "America/Caracas",
    "Santiago": "America/Santiago",
    "BogotaLimaQuito": "America/Bogota",
    "EasternTimeUSCanada": "America/New_York",
    "IndianaEast": "America/Indiana/Indianapolis",
    "CentralAmerica": "America/Guatemala",
    "CentralTimeUSCanada": "America/Chicago",
    "GuadalajaraMexicoCityMonterrey": "America/Mexico_City",
    "Saskatchewan": "America/Regina",
    "Arizona": "America/Phoenix",
    "ChihuahuaLaPazMazatlan": "America/Mazatlan",
    "MountainTimeUSCanada": "America/Denver",
    "PacificTimeUSCanadaTijuana": "America/Los_Angeles",
    "Alaska": "America/Anchorage",
    "Hawaii": "Pacific/Honolulu",
    "MidwayIslandandSamoa": "Pacific/Pago_Pago",
    "InternationalDateLineWest": "Etc/GMT+12",
}

# Customer Management TimeZoneType spellings that differ from ReportTimeZone (both as in the v13 WSDLs).
_ACCOUNT_TO_REPORT = {
    "AthensBuckarestIstanbul": "AthensIslandanbulMinsk",
    "IslamabadKarachiTashkent": "IslandamabadKarachiTashkent",
    "MidwayIslandAndSamoa": "MidwayIslandandSamoa",
    "SolomonIslandNewCaledonia": "MagadanSolomonIslandNewCaledonia",
}


def report_time_zone(account_time_zone: str | None) -> str:
    """The ReportTimeZone for an account's TimeZone; Microsoft's default when the account has none we know."""
    if not account_time_zone:
        return DEFAULT_REPORT_TIME_ZONE
    name = _ACCOUNT_TO_REPORT.get(account_time_zone, account_time_zone)
    return name if name in REPORT_TIME_ZONES else DEFAULT_REPORT_TIME_ZONE


def zone(report_zone: str) -> tzinfo:
    """The IANA zone of a ReportTimeZone (or account TimeZone) name."""
    return ZoneInfo(REPORT_TIME_ZONES[report_time_zone(report_zone)])


def today_in(report_zone: str, now: datetime) -> date:
    """The calendar date at `now` (aware) in the zone."""
    return now.astimezone(zone(report_zone)).date()


def yesterday_in(report_zone: str, now: datetime) -> date:
    """The previous calendar day in the zone: the last complete day of data."""
    return today_in(report_zone, now) - timedelta(days=1)
