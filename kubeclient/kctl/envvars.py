"""Service environment variables for ``kctl env``; the rules live in apimachinery.envvars.

Why a re-export: the node agent computes the same variables and must not import kctl; the one home is
apimachinery.envvars. This name stays for kubeclient.kctl.commands.env until it imports the new home.
"""

from apimachinery.envvars import (
    MASTER_SERVICES,
    env_var_name,
    from_services,
    link_variables,
    pod_service_env,
    service_ip_set,
    services_for_pod,
)

__all__ = ["MASTER_SERVICES", "env_var_name", "from_services", "link_variables", "pod_service_env",
           "service_ip_set", "services_for_pod"]
