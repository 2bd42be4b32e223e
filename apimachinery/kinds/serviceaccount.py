"""core/v1 ServiceAccount (pkg/registry/core/serviceaccount); validation and the Pod plugin in
apiserver.admission.serviceaccount, the ``default`` account kept by controllers.serviceaccount."""

from __future__ import annotations

from types import MappingProxyType

from apimachinery.kinds.base import OBJECT_META, Kind, Printer, ResourceType
from apimachinery.kinds.printing import AGE, NAME, as_items, dig, name_age
from apimachinery.kinds.tags import CORE

#: The account every namespace has and a Pod runs as when it names none.
DEFAULT_SERVICE_ACCOUNT = "default"

_D_SECRETS = (
    "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are "
    "allowed to use. Pods are only limited to this list if this service account has a "
    "\"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The "
    "\"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces "
    "to isolate access to mounted secrets. This field should not be used to find auto-generated service account "
    "token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, "
    "or service account token secrets can be manually created. More info: "
    "https://kubernetes.io/docs/concepts/configuration/secret"
)

KIND = Kind(
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",)),
    schema="apimachinery.schemas.serviceaccount.ServiceAccount",
    structs=MappingProxyType({"": CORE + "ServiceAccount", "metadata": OBJECT_META}),
    # printServiceAccount: the number of secrets (a "string" column holding an int, as kube declares it)
    printer=Printer((NAME, ("Secrets", "string", "", _D_SECRETS, 0), AGE),
                    name_age(lambda o: [len(as_items(dig(o, "secrets")))])),
)
