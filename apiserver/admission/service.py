"""Service admission: v1 defaults, registry preparation and ValidateService.

Why: Services are kubelite's reason to exist, so every check, default and
message follows pkg/apis/core/validation, pkg/apis/core/v1/defaults.go and
pkg/registry/core/service (strategy + storage) closely.

kubelite difference: ClusterIPs and NodePorts are allocated later by
controllers, so admission never allocates. A clusterIP the user leaves empty
stays empty (kubectl shows it pending); one the user gives is validated here,
and apiserver.ledger refuses it with kube-apiserver's "out of range" /
"already allocated" messages (their texts live in apimachinery.ledger).
IP families are still defaulted here, as kube-apiserver does before allocating.
"""

from __future__ import annotations

import json
from typing import Any

from apimachinery.errors import (
    FieldError,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
)
from apimachinery.resources import BY_KEY
from apimachinery.validation import (
    GoValue,
    go_string_list,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_dual_stack,
    is_ipv6,
    is_qualified_name,
    is_valid_cidr,
    is_valid_ip,
    is_valid_port_name,
    is_valid_port_num,
    non_special_ip_errors,
    parse_ip_sloppy,
    validate_labels,
)
from apiserver.admission.base import Admission, Obj, as_int, as_list, as_map, as_str, semantic_equal, spec_of

# sets.List order (sorted), as the Go messages print them
SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
PROTOCOLS = ["SCTP", "TCP", "UDP"]
SESSION_AFFINITIES = ["ClientIP", "None"]
TRAFFIC_POLICIES = ["Cluster", "Local"]
IP_FAMILIES = ["IPv4", "IPv6"]
IP_FAMILY_POLICIES = ["PreferDualStack", "RequireDualStack", "SingleStack"]
TRAFFIC_DISTRIBUTIONS = ["PreferClose", "PreferSameZone", "PreferSameNode"]

DEFAULT_CLIENT_IP_AFFINITY_SECONDS = 10800
MAX_CLIENT_IP_AFFINITY_SECONDS = 86400
NONE = "None"
LB_SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"
TOPOLOGY_MODE_ANNOTATION = "service.kubernetes.io/topology-mode"
TOPOLOGY_HINTS_ANNOTATION = "service.kubernetes.io/topology-aware-hints"


# ---------------------------------------------------------------------------
# Predicates (pkg/api/service and the registry helpers)
# ---------------------------------------------------------------------------


def svc_type(spec: dict[str, Any]) -> str:
    return as_str(spec.get("type"))


def cluster_ips(spec: dict[str, Any]) -> list[str]:
    return [str(ip) for ip in as_list(spec.get("clusterIPs"))]


def ip_families(spec: dict[str, Any]) -> list[str]:
    return [str(f) for f in as_list(spec.get("ipFamilies"))]


def is_headless(spec: dict[str, Any]) -> bool:
    ips = cluster_ips(spec)
    return len(ips) == 1 and ips[0] == NONE


def externally_accessible(spec: dict[str, Any]) -> bool:
    t = svc_type(spec)
    return t in ("LoadBalancer", "NodePort") or (t == "ClusterIP" and bool(as_list(spec.get("externalIPs"))))


def needs_health_check(spec: dict[str, Any]) -> bool:
    return svc_type(spec) == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def needs_cluster_ip(spec: dict[str, Any]) -> bool:
    return svc_type(spec) != "ExternalName"


def needs_node_port(spec: dict[str, Any]) -> bool:
    return svc_type(spec) in ("NodePort", "LoadBalancer")


def ip_family_of(ip: str) -> str:
    return "IPv6" if is_ipv6(ip) else "IPv4"


def _go_service_port(protocol: Any, port: Any) -> GoValue:
    """The (protocol, port) key of a duplicate port, printed as Go's %#v of core.ServicePort."""
    return GoValue(
        'core.ServicePort{Name:"", Protocol:' + json.dumps(str(protocol or "")) + ", AppProtocol:(*string)(nil), "
        f"Port:{as_int(port) or 0}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}"
    )


# ---------------------------------------------------------------------------
# Admission
# ---------------------------------------------------------------------------


class ServiceAdmission(Admission):
    """core/v1 Service. ``families`` are the IP families the cluster serves, primary first."""

    def __init__(self, families: tuple[str, ...] = ("IPv4",)) -> None:
        super().__init__(BY_KEY["services"])
        self.families = families

    def name_validator(self, name: str) -> list[str]:
        """ValidateServiceName: a DNS-1035 label (must start with a letter)."""
        return is_dns1035_label(name)

    # -- defaults (SetDefaults_Service) ----------------------------------------
    def default(self, obj: Obj) -> None:
        spec = spec_of(obj)
        if not spec.get("sessionAffinity"):
            spec["sessionAffinity"] = "None"
        if spec["sessionAffinity"] == "None":
            spec.pop("sessionAffinityConfig", None)
        if spec["sessionAffinity"] == "ClientIP":
            client_ip = as_map(as_map(spec.get("sessionAffinityConfig")).get("clientIP"))
            if client_ip.get("timeoutSeconds") is None:
                spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_AFFINITY_SECONDS}}
        if not spec.get("type"):
            spec["type"] = "ClusterIP"
        for port in as_list(spec.get("ports")):
            if not isinstance(port, dict):
                continue
            if not port.get("protocol"):
                port["protocol"] = "TCP"
            if port.get("targetPort") in (None, 0, ""):
                port["targetPort"] = port.get("port")
        if externally_accessible(spec) and not spec.get("externalTrafficPolicy"):
            spec["externalTrafficPolicy"] = "Cluster"
        if spec.get("internalTrafficPolicy") is None and svc_type(spec) in ("NodePort", "LoadBalancer", "ClusterIP"):
            spec["internalTrafficPolicy"] = "Cluster"
        if svc_type(spec) == "LoadBalancer":
            if spec.get("allocateLoadBalancerNodePorts") is None:
                spec["allocateLoadBalancerNodePorts"] = True
            for ingress in as_list(as_map(as_map(obj.get("status")).get("loadBalancer")).get("ingress")):
                if isinstance(ingress, dict) and ingress.get("ip") and ingress.get("ipMode") is None:
                    ingress["ipMode"] = "VIP"
        # kube-apiserver does these two while allocating (BeginCreate); done here so that every
        # write path gets them. prepare_update refines both with the stored object when it has one.
        normalize_cluster_ips(spec, None)
        self.init_ip_families(spec, None)

    # -- preparation (strategy + storage hooks) -------------------------------
    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"loadBalancer": {}}

    def prepare_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_update(obj, old)
        obj["status"] = old.get("status", {"loadBalancer": {}})
        spec, old_spec = spec_of(obj), as_map(old.get("spec"))
        drop_type_dependent_fields(spec, old_spec)
        patch_allocated_values(spec, old_spec)
        normalize_cluster_ips(spec, old_spec)
        self.init_ip_families(spec, old_spec)

    def init_ip_families(self, spec: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Allocators.initIPFamilyFields, minus the errors (validate_* reports those)."""
        if svc_type(spec) == "ExternalName" or _matching_prefer_dual_stack(spec, old):
            return
        if spec.get("ipFamilyPolicy") is None:
            if old is not None and old.get("ipFamilyPolicy") is not None:
                spec["ipFamilyPolicy"] = old["ipFamilyPolicy"]
            elif spec.get("clusterIP") == NONE and not as_map(spec.get("selector")):
                spec["ipFamilyPolicy"] = "RequireDualStack"
            else:
                spec["ipFamilyPolicy"] = "SingleStack"
        if validate_cluster_ips_related_fields(spec):
            return  # malformed input: leave it for validation to report
        policy = spec["ipFamilyPolicy"]
        if old is not None and policy == "SingleStack":
            if semantic_equal(spec.get("clusterIPs"), old.get("clusterIPs")) and len(cluster_ips(spec)) > 1:
                spec["clusterIPs"] = cluster_ips(spec)[:1]
            if semantic_equal(spec.get("ipFamilies"), old.get("ipFamilies")) and len(ip_families(spec)) > 1:
                spec["ipFamilies"] = ip_families(spec)[:1]
        if policy == "SingleStack" and (len(cluster_ips(spec)) == 2 or len(ip_families(spec)) == 2):
            return  # contradictory input: kube-apiserver stops here with an error
        families = ip_families(spec)
        for i, ip in enumerate(cluster_ips(spec)):
            if ip == NONE:
                break
            fam = ip_family_of(ip)
            if i >= len(families):
                if fam not in self.families:
                    return  # reported by ip_family_errors; nothing is defaulted
                families.append(fam)
        if families:
            spec["ipFamilies"] = families
        if spec.get("clusterIP") == NONE and not as_map(spec.get("selector")):
            if not families:
                families = [self.families[0]]
            if len(families) < 2 and policy != "SingleStack":
                families.append("IPv6" if families[0] == "IPv4" else "IPv4")
            spec["ipFamilies"] = families
            return
        if not families:
            families = [self.families[0]]
        if policy != "SingleStack" and len(families) == 1 and len(self.families) == 2:
            families.append("IPv6" if families[0] == "IPv4" else "IPv4")
        spec["ipFamilies"] = families

    # -- validation -----------------------------------------------------------
    def validate_create(self, obj: Obj) -> list[FieldError]:
        if begin_errs := self.ip_family_errors(as_map(obj.get("spec")), None):
            return begin_errs
        return validate_service(obj)

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        spec, old_spec = as_map(obj.get("spec")), as_map(old.get("spec"))
        if begin_errs := self.ip_family_errors(spec, old_spec):
            return begin_errs
        errs = upgrade_downgrade_cluster_ip_errors(old_spec, spec)
        errs += upgrade_downgrade_ip_family_errors(old_spec, spec)
        errs += load_balancer_class_errors(old_spec, spec)
        if needs_health_check(old_spec) and needs_health_check(spec):
            # kubelite allocates in a controller after create: unset -> value is the allocation itself.
            if old_spec.get("healthCheckNodePort") and spec.get("healthCheckNodePort") != old_spec.get(
                "healthCheckNodePort"
            ):
                errs.append(forbidden("spec.healthCheckNodePort", "field is immutable"))
        return errs + validate_service(obj)

    def ip_family_errors(self, spec: dict[str, Any], old: dict[str, Any] | None) -> list[FieldError]:
        """initIPFamilyFields' errors: loose clusterIP checks, then the cluster's configured families.

        kube-apiserver raises these while allocating, before it validates the
        rest of the Service, so when there are any they are the whole answer.
        """
        if svc_type(spec) == "ExternalName" or _matching_prefer_dual_stack(spec, old):
            return []
        if loose := validate_cluster_ips_related_fields(spec):
            return loose
        errs: list[FieldError] = []
        policy = spec.get("ipFamilyPolicy")
        ips, families = cluster_ips(spec), ip_families(spec)
        if old is not None and policy != "SingleStack":
            if ips and len(ips) < len(cluster_ips(old)):
                errs.append(invalid("spec.ipFamilyPolicy", policy, "must be 'SingleStack' to release the secondary cluster IP"))
            if families and len(families) < len(ip_families(old)):
                errs.append(invalid("spec.ipFamilyPolicy", policy, "must be 'SingleStack' to release the secondary IP family"))
        if policy == "SingleStack":
            if len(ips) == 2:
                errs.append(invalid("spec.ipFamilyPolicy", policy,
                                    "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"))
            if len(families) == 2:
                errs.append(invalid("spec.ipFamilyPolicy", policy,
                                    "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"))
        for i, ip in enumerate(ips):
            if ip == NONE:
                break
            if i >= len(families) and ip_family_of(ip) not in self.families:
                errs.append(invalid(f"spec.clusterIPs[{i}]", go_string_list(ips),
                                    f"{ip_family_of(ip)} is not configured on this cluster"))
        if errs or (spec.get("clusterIP") == NONE and not as_map(spec.get("selector"))):
            return errs
        if policy == "RequireDualStack" and len(self.families) < 2:
            errs.append(invalid("spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack services"))
        for i, fam in enumerate(families):
            if fam not in self.families:
                errs.append(invalid(f"spec.ipFamilies[{i}]", fam, "not configured on this cluster"))
        return errs

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        lb = as_map(as_map(obj.get("status")).get("loadBalancer"))
        for i, ingress in enumerate(as_list(lb.get("ingress"))):
            ingress = as_map(ingress)
            path = f"status.loadBalancer.ingress[{i}]"
            if ingress.get("ip"):
                errs.extend(invalid(f"{path}.ip", ingress["ip"], m) for m in is_valid_ip(str(ingress["ip"])))
            if ingress.get("hostname"):
                host = str(ingress["hostname"])
                errs.extend(invalid(f"{path}.hostname", host, m) for m in is_dns1123_subdomain(host))
                if parse_ip_sloppy(host) is not None:
                    errs.append(invalid(f"{path}.hostname", host, "must be a DNS name, not an IP address"))
        return errs


def _matching_prefer_dual_stack(spec: dict[str, Any], old: dict[str, Any] | None) -> bool:
    """isMatchingPreferDualStackClusterIPFields: an untouched PreferDualStack service is left alone."""
    if old is None or not needs_cluster_ip(old) or not needs_cluster_ip(spec):
        return False
    return (
        old.get("ipFamilyPolicy") == "PreferDualStack"
        and spec.get("ipFamilyPolicy") == "PreferDualStack"
        and semantic_equal(old.get("clusterIPs"), spec.get("clusterIPs"))
        and semantic_equal(old.get("ipFamilies"), spec.get("ipFamilies"))
    )


# ---------------------------------------------------------------------------
# Registry preparation helpers
# ---------------------------------------------------------------------------


def normalize_cluster_ips(spec: dict[str, Any], old: dict[str, Any] | None) -> None:
    """NormalizeClusterIPs: keep the singular clusterIP and the plural clusterIPs in step."""
    cip = as_str(spec.get("clusterIP"))
    if old is None:
        if cip and not cluster_ips(spec):
            spec["clusterIPs"] = [cip]
        return
    same_ips = semantic_equal(spec.get("clusterIPs"), old.get("clusterIPs"))
    if cluster_ips(old) and not cluster_ips(spec) and as_str(old.get("clusterIP")) == cip:
        spec["clusterIPs"] = cluster_ips(old)
        same_ips = True
    if as_str(old.get("clusterIP")) != cip:
        if as_str(old.get("clusterIP")) and not cip:
            if same_ips:
                spec.pop("clusterIPs", None)
        elif same_ips:
            spec["clusterIPs"] = [cip]


def patch_allocated_values(spec: dict[str, Any], old: dict[str, Any]) -> None:
    """patchAllocatedValues: a client that omits allocated IPs/ports keeps them (apply is idempotent)."""
    if needs_cluster_ip(old) and needs_cluster_ip(spec):
        if not spec.get("clusterIP") and old.get("clusterIP"):
            spec["clusterIP"] = old["clusterIP"]
        if not cluster_ips(spec) and cluster_ips(old):
            spec["clusterIPs"] = cluster_ips(old)
    if needs_node_port(old) and needs_node_port(spec):
        old_ports = [as_map(p) for p in as_list(old.get("ports"))]
        new_ports = [p for p in as_list(spec.get("ports")) if isinstance(p, dict)]
        used = {p.get("nodePort") for p in old_ports} & {p.get("nodePort") for p in new_ports}
        by_name = {as_str(p.get("name")): p.get("nodePort") for p in old_ports}
        for p in new_ports:
            if not p.get("nodePort"):
                value = by_name.get(as_str(p.get("name")))
                if value and value not in used:
                    p["nodePort"] = value
    if needs_health_check(old) and needs_health_check(spec) and not spec.get("healthCheckNodePort"):
        if old.get("healthCheckNodePort"):
            spec["healthCheckNodePort"] = old["healthCheckNodePort"]


def drop_type_dependent_fields(spec: dict[str, Any], old: dict[str, Any]) -> None:
    """dropTypeDependentFields: switching type wipes what the old type had, unless the user changed it."""
    if needs_cluster_ip(old) and not needs_cluster_ip(spec):
        if semantic_equal(spec.get("clusterIPs"), old.get("clusterIPs")):
            spec.pop("clusterIP", None)
            spec.pop("clusterIPs", None)
        if semantic_equal(spec.get("ipFamilies"), old.get("ipFamilies")):
            spec.pop("ipFamilies", None)
        if spec.get("ipFamilyPolicy") == old.get("ipFamilyPolicy"):
            spec.pop("ipFamilyPolicy", None)
    if needs_node_port(old) and not needs_node_port(spec):
        same = semantic_equal([as_map(p).get("nodePort") for p in as_list(spec.get("ports"))],
                              [as_map(p).get("nodePort") for p in as_list(old.get("ports"))])
        if same:
            for p in as_list(spec.get("ports")):
                if isinstance(p, dict):
                    p.pop("nodePort", None)
    if needs_health_check(old) and not needs_health_check(spec):
        if spec.get("healthCheckNodePort") == old.get("healthCheckNodePort"):
            spec.pop("healthCheckNodePort", None)
    lb_old, lb_new = svc_type(old) == "LoadBalancer", svc_type(spec) == "LoadBalancer"
    if lb_old and not lb_new:
        for key in ("allocateLoadBalancerNodePorts", "loadBalancerClass"):
            if spec.get(key) == old.get(key):
                spec.pop(key, None)
    if externally_accessible(old) and not externally_accessible(spec):
        if spec.get("externalTrafficPolicy") == old.get("externalTrafficPolicy"):
            spec.pop("externalTrafficPolicy", None)


# ---------------------------------------------------------------------------
# ValidateService (without ObjectMeta, which the caller validates)
# ---------------------------------------------------------------------------


def validate_service(obj: Obj) -> list[FieldError]:
    spec = as_map(obj.get("spec"))
    annotations = as_map(as_map(obj.get("metadata")).get("annotations"))
    errs: list[FieldError] = []
    stype = svc_type(spec)
    headless = is_headless(spec)
    ports = as_list(spec.get("ports"))

    if TOPOLOGY_MODE_ANNOTATION in annotations and TOPOLOGY_HINTS_ANNOTATION in annotations:
        mode = annotations[TOPOLOGY_MODE_ANNOTATION]
        if mode != annotations[TOPOLOGY_HINTS_ANNOTATION]:
            errs.append(invalid(f"metadata.annotations[{TOPOLOGY_MODE_ANNOTATION}]", mode,
                                f"must match annotations[{TOPOLOGY_HINTS_ANNOTATION}] when both are specified"))

    if not ports and not headless and stype != "ExternalName":
        errs.append(required("spec.ports"))

    if stype in ("LoadBalancer", "NodePort") and headless:
        errs.append(invalid("spec.clusterIPs[0]", NONE, f"may not be set to 'None' for {stype} services"))
    elif stype == "ExternalName":
        if cluster_ips(spec):
            errs.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if ip_families(spec):
            errs.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = as_str(spec.get("externalName")).removesuffix(".")
        if cname:
            errs.extend(invalid("spec.externalName", cname, m) for m in is_dns1123_subdomain(cname))
        else:
            errs.append(required("spec.externalName"))

    names: set[str] = set()
    for i, port in enumerate(ports):
        errs.extend(validate_service_port(as_map(port), f"spec.ports[{i}]", require_name=len(ports) > 1, names=names))

    if spec.get("selector") is not None:
        errs.extend(validate_labels(spec.get("selector"), "spec.selector"))

    affinity = as_str(spec.get("sessionAffinity"))
    if not affinity:
        errs.append(required("spec.sessionAffinity"))
    elif affinity not in SESSION_AFFINITIES:
        errs.append(not_supported("spec.sessionAffinity", affinity, SESSION_AFFINITIES))
    if affinity == "ClientIP":
        errs.extend(_client_ip_affinity_errors(spec.get("sessionAffinityConfig")))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))

    errs.extend(validate_cluster_ips_related_fields(spec))

    for i, ip in enumerate(as_list(spec.get("externalIPs"))):
        path, ip = f"spec.externalIPs[{i}]", str(ip)
        bad = is_valid_ip(ip)
        errs.extend(invalid(path, ip, m) for m in bad)
        if not bad:
            errs.extend(invalid(path, ip, m) for m in non_special_ip_errors(ip))

    if not stype:
        errs.append(required("spec.type"))
    elif stype not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", stype, SERVICE_TYPES))

    if stype == "ClusterIP":
        for i, port in enumerate(ports):
            if as_map(port).get("nodePort"):
                errs.append(forbidden(f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"))

    node_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        port = as_map(port)
        node_port = as_int(port.get("nodePort"))
        if not node_port:
            continue
        node_key = (as_str(port.get("protocol")), node_port)
        if node_key in node_ports:
            errs.append(duplicate(f"spec.ports[{i}].nodePort", node_port))
        node_ports.add(node_key)

    seen_ports: set[tuple[str, Any]] = set()
    for i, port in enumerate(ports):
        port = as_map(port)
        port_key = (as_str(port.get("protocol")), port.get("port"))
        if port_key in seen_ports:
            errs.append(duplicate(f"spec.ports[{i}]", _go_service_port(*port_key)))
        seen_ports.add(port_key)

    ranges = as_list(spec.get("loadBalancerSourceRanges"))
    if ranges:
        path = "spec.LoadBalancerSourceRanges"  # sic: kube-apiserver's capital L
        if stype != "LoadBalancer":
            errs.append(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        for i, value in enumerate(ranges):
            value = str(value).strip()
            errs.extend(invalid(f"{path}[{i}]", value, m) for m in is_valid_cidr(value))
    elif LB_SOURCE_RANGES_ANNOTATION in annotations:
        path = f"metadata.annotations[{LB_SOURCE_RANGES_ANNOTATION}]"
        if stype != "LoadBalancer":
            errs.append(forbidden(path, "may only be used when `type` is 'LoadBalancer'"))
        val = str(annotations[LB_SOURCE_RANGES_ANNOTATION]).strip()
        if val:
            for value in val.split(","):
                value = value.strip()
                errs.extend(invalid(path, value, m) for m in is_valid_cidr(value))

    if spec.get("allocateLoadBalancerNodePorts") is not None and stype != "LoadBalancer":
        errs.append(forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'"))
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        errs.append(required("allocateLoadBalancerNodePorts"))  # sic: no "spec." in kube-apiserver

    errs.extend(load_balancer_class_errors(None, spec))
    errs.extend(_external_traffic_policy_errors(spec))

    itp = spec.get("internalTrafficPolicy")
    if itp is None:
        if stype in ("NodePort", "LoadBalancer", "ClusterIP"):
            errs.append(required("spec.internalTrafficPolicy"))
    elif itp not in TRAFFIC_POLICIES:
        errs.append(not_supported("spec.internalTrafficPolicy", itp, TRAFFIC_POLICIES))

    td = spec.get("trafficDistribution")
    if td is not None and td not in TRAFFIC_DISTRIBUTIONS:
        errs.append(not_supported("spec.trafficDistribution", td, TRAFFIC_DISTRIBUTIONS))
    return errs


def validate_service_port(port: dict[str, Any], path: str, *, require_name: bool, names: set[str]) -> list[FieldError]:
    errs: list[FieldError] = []
    name = as_str(port.get("name"))
    if require_name and not name:
        errs.append(required(f"{path}.name"))
    elif name:
        errs.extend(invalid(f"{path}.name", name, m) for m in is_dns1123_label(name))
        if name in names:
            errs.append(duplicate(f"{path}.name", name))
        else:
            names.add(name)
    number = as_int(port.get("port")) or 0
    errs.extend(invalid(f"{path}.port", number, m) for m in is_valid_port_num(number))
    protocol = as_str(port.get("protocol"))
    if not protocol:
        errs.append(required(f"{path}.protocol"))
    elif protocol not in PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    errs.extend(port_num_or_name_errors(port.get("targetPort"), f"{path}.targetPort"))
    if port.get("appProtocol") is not None:
        app = as_str(port.get("appProtocol"))
        errs.extend(invalid(f"{path}.appProtocol", app, m) for m in is_qualified_name(app))
    return errs


def port_num_or_name_errors(value: Any, path: str) -> list[FieldError]:
    """ValidatePortNumOrName for an intstr: a port number or an IANA_SVC_NAME."""
    if isinstance(value, str):
        return [invalid(path, value, m) for m in is_valid_port_name(value)]
    number = as_int(value) or 0
    return [invalid(path, number, m) for m in is_valid_port_num(number)]


def _client_ip_affinity_errors(config: Any) -> list[FieldError]:
    path = "spec.sessionAffinityConfig"
    why = "when session affinity type is ClientIP"
    if config is None:
        return [required(path, why)]
    client_ip = as_map(config).get("clientIP")
    if client_ip is None:
        return [required(f"{path}.clientIP", why)]
    timeout = as_map(client_ip).get("timeoutSeconds")
    if timeout is None:
        return [required(f"{path}.clientIP.timeoutSeconds", why)]
    seconds = as_int(timeout)
    if seconds is None or seconds <= 0 or seconds > MAX_CLIENT_IP_AFFINITY_SECONDS:
        return [invalid(f"{path}.clientIP.timeoutSeconds", timeout,
                        f"must be greater than 0 and less than {MAX_CLIENT_IP_AFFINITY_SECONDS}")]
    return []


def _external_traffic_policy_errors(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    etp = as_str(spec.get("externalTrafficPolicy"))
    if not externally_accessible(spec):
        if etp:
            errs.append(invalid("spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services"))
    elif not etp:
        errs.append(required("spec.externalTrafficPolicy"))
    elif etp not in TRAFFIC_POLICIES:
        errs.append(not_supported("spec.externalTrafficPolicy", etp, TRAFFIC_POLICIES))
    hc = as_int(spec.get("healthCheckNodePort")) or 0
    if not needs_health_check(spec):
        if hc:
            errs.append(invalid("spec.healthCheckNodePort", hc,
                                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
    elif hc:
        # kube-apiserver also requires it here, but it allocates first; in kubelite a controller does.
        errs.extend(invalid("spec.healthCheckNodePort", hc, m) for m in is_valid_port_num(hc))
    return errs


def load_balancer_class_errors(old: dict[str, Any] | None, spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    lbc = spec.get("loadBalancerClass")
    is_lb = svc_type(spec) == "LoadBalancer"
    if old is not None and svc_type(old) == "LoadBalancer" and is_lb and old.get("loadBalancerClass") != lbc:
        errs.append(invalid("spec.loadBalancerClass", lbc, "may not change once set"))
    if is_lb:
        if lbc is not None:
            errs.extend(invalid("spec.loadBalancerClass", lbc, m) for m in is_qualified_name(as_str(lbc)))
    elif lbc is not None:
        errs.append(forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'"))
    return errs


def validate_cluster_ips_related_fields(spec: dict[str, Any]) -> list[FieldError]:
    """ValidateServiceClusterIPsRelatedFields: clusterIP(s), ipFamilies and ipFamilyPolicy agree."""
    if svc_type(spec) == "ExternalName":
        return []
    errs: list[FieldError] = []
    cip = as_str(spec.get("clusterIP"))
    ips = cluster_ips(spec)
    if cip:
        if not ips:
            errs.append(required("spec.clusterIPs"))
        elif ips[0] != cip:
            errs.append(invalid("spec.clusterIPs", go_string_list(ips), "first value must match `clusterIP`"))
    elif ips:
        errs.append(invalid("spec.clusterIPs", go_string_list(ips), "must be empty when `clusterIP` is not specified"))

    seen: set[str] = set()
    for i, fam in enumerate(ip_families(spec)):
        if fam not in IP_FAMILIES:
            errs.append(not_supported(f"spec.ipFamilies[{i}]", fam, IP_FAMILIES))
        if fam in seen:
            errs.append(duplicate(f"spec.ipFamilies[{i}]", fam))
        seen.add(fam)

    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        errs.append(not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))

    bad_ips = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == NONE:
            if len(ips) > 1:
                bad_ips = True
                errs.append(invalid("spec.clusterIPs", go_string_list(ips), "'None' must be the first and only value"))
            continue
        msgs = is_valid_ip(ip)
        bad_ips = bad_ips or bool(msgs)
        errs.extend(invalid(f"spec.clusterIPs[{i}]", ip, m) for m in msgs)
    if len(ips) > 2:
        errs.append(invalid("spec.clusterIPs", go_string_list(ips), "may only hold up to 2 values"))
    if bad_ips:
        return errs
    if len(ips) > 1 and not is_dual_stack(ips):
        errs.append(invalid("spec.clusterIPs", go_string_list(ips), "may specify no more than one IP for each IP family"))
    families = ip_families(spec)
    if not is_headless(spec) and ips and families:
        for i, ip in enumerate(ips[: len(families)]):
            if families[i] == "IPv4" and is_ipv6(ip):
                errs.append(invalid(f"spec.clusterIPs[{i}]", ip, f"expected an IPv4 value as indicated by `ipFamilies[{i}]`"))
            if families[i] == "IPv6" and not is_ipv6(ip):
                errs.append(invalid(f"spec.clusterIPs[{i}]", ip, f"expected an IPv6 value as indicated by `ipFamilies[{i}]`"))
    return errs


def upgrade_downgrade_cluster_ip_errors(old: dict[str, Any], spec: dict[str, Any]) -> list[FieldError]:
    """validateUpgradeDowngradeClusterIPs: the primary clusterIP never changes once set."""
    if "ExternalName" in (svc_type(spec), svc_type(old)) or (is_headless(old) and is_headless(spec)):
        return []
    errs: list[FieldError] = []
    old_ips, ips = cluster_ips(old), cluster_ips(spec)
    shown = go_string_list(ips)
    if len(old_ips) == len(ips):
        errs.extend(invalid(f"spec.clusterIPs[{i}]", shown, "may not change once set")
                    for i, ip in enumerate(old_ips) if ip != ips[i])
    elif len(old_ips) > len(ips):
        if not ips:
            errs.append(invalid("spec.clusterIPs[0]", shown, "primary clusterIP can not be unset"))
        if old_ips and ips and ips[0] != old_ips[0]:
            errs.append(invalid("spec.clusterIPs[0]", shown, "may not change once set"))
        if len(ips) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
            errs.append(invalid("spec.ipFamilyPolicy", spec.get("ipFamilyPolicy"),
                                "must be set to 'SingleStack' when releasing the secondary clusterIP"))
    elif old_ips and ips[0] != old_ips[0]:
        errs.append(invalid("spec.clusterIPs[0]", shown, "may not change once set"))
    return errs


def upgrade_downgrade_ip_family_errors(old: dict[str, Any], spec: dict[str, Any]) -> list[FieldError]:
    """validateUpgradeDowngradeIPFamilies: the primary family never changes (headless may)."""
    if "ExternalName" in (svc_type(spec), svc_type(old)) or is_headless(old) or is_headless(spec):
        return []
    errs: list[FieldError] = []
    old_f, fams = ip_families(old), ip_families(spec)
    shown_f = go_string_list(fams, "core.IPFamily")
    shown_ips = go_string_list(cluster_ips(spec))
    if len(old_f) == len(fams):
        errs.extend(invalid("spec.ipFamilies[0]", shown_f, "may not change once set")
                    for i, fam in enumerate(old_f) if fam != fams[i])
    elif len(old_f) > len(fams):
        if not cluster_ips(spec):
            errs.append(invalid("spec.ipFamilies[0]", shown_f, "primary ipFamily can not be unset"))
        if fams and fams[0] != old_f[0]:
            errs.append(invalid("spec.ipFamilies[0]", shown_ips, "may not change once set"))
        if len(fams) == 1 and spec.get("ipFamilyPolicy") != "SingleStack":
            errs.append(invalid("spec.ipFamilyPolicy", spec.get("ipFamilyPolicy"),
                                "must be set to 'SingleStack' when releasing the secondary ipFamily"))
    elif old_f and fams and fams[0] != old_f[0]:
        errs.append(invalid("spec.ipFamilies[0]", shown_ips, "may not change once set"))
    return errs
