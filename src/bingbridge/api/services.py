"""Where each Microsoft Advertising service lives: REST host, SOAP path, namespace and SOAP headers.

Hosts and paths come from the v13 WSDL `soap:address` entries and Microsoft's REST SDK host table.
"""

from __future__ import annotations

from dataclasses import dataclass

from bingbridge.errors import ConfigurationError
from bingbridge.settings import Environment


@dataclass(frozen=True)
class Service:
    """One Microsoft Advertising web service."""

    key: str  # the CLI spelling, e.g. "customer-management"
    host_label: str  # first DNS label of the host, e.g. "clientcenter"
    soap_path: str
    namespace: str
    # SOAP headers the WSDL declares, in WSDL (alphabetical) order. Password/UserName are legacy, left out.
    soap_headers: tuple[str, ...]

    def rest_host(self, environment: Environment, base_url: str | None = None) -> str:
        """The REST base URL; `base_url` (e.g. the emulator) replaces Microsoft's host for every service."""
        if base_url:
            return base_url
        sandbox = ".sandbox" if environment == "sandbox" else ""
        return f"https://{self.host_label}.api{sandbox}.bingads.microsoft.com"

    def soap_url(self, environment: Environment, base_url: str | None = None) -> str:
        return self.rest_host(environment, base_url) + self.soap_path


_ACCOUNT_HEADERS = ("AuthenticationToken", "CustomerAccountId", "CustomerId", "DeveloperToken")
_USER_HEADERS = ("AuthenticationToken", "DeveloperToken")

SERVICES: dict[str, Service] = {
    s.key: s
    for s in (
        Service(
            "customer-management",
            "clientcenter",
            "/Api/CustomerManagement/v13/CustomerManagementService.svc",
            "https://bingads.microsoft.com/Customer/v13",
            _USER_HEADERS,
        ),
        Service(
            "campaign-management",
            "campaign",
            "/Api/Advertiser/CampaignManagement/v13/CampaignManagementService.svc",
            "https://bingads.microsoft.com/CampaignManagement/v13",
            _ACCOUNT_HEADERS,
        ),
        Service(
            "reporting",
            "reporting",
            "/Api/Advertiser/Reporting/v13/ReportingService.svc",
            "https://bingads.microsoft.com/Reporting/v13",
            _ACCOUNT_HEADERS,
        ),
        Service(
            "bulk",
            "bulk",
            "/Api/Advertiser/CampaignManagement/v13/BulkService.svc",
            "https://bingads.microsoft.com/CampaignManagement/v13",
            _ACCOUNT_HEADERS,
        ),
        Service(
            "ad-insight",
            "adinsight",
            "/Api/Advertiser/AdInsight/V13/AdInsightService.svc",
            "https://bingads.microsoft.com/AdInsight/v13",
            _ACCOUNT_HEADERS,
        ),
        Service(
            "customer-billing",
            "clientcenter",
            "/Api/Billing/v13/CustomerBillingService.svc",
            "https://bingads.microsoft.com/Billing/v13",
            _USER_HEADERS,
        ),
    )
}


def get_service(key: str) -> Service:
    """Look a service up by its CLI key, naming the valid keys when it is unknown."""
    try:
        return SERVICES[key]
    except KeyError:
        raise ConfigurationError(f"unknown service {key!r}; choose one of: {', '.join(SERVICES)}") from None
