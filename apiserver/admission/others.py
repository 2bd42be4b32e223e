"""Admission for the supporting types: Namespace, Endpoints, Node, Event,
EndpointSlice, Lease, IPAddress and ServiceCIDR.

Why: controllers write these constantly, so their checks are the Kubernetes
ones (pkg/apis/core, discovery, coordination and networking validation) but
kept to what kubelite actually stores; each class names its Go source.
"""

from __future__ import annotations

from typing import Any

from apimachinery.errors import (
    FieldError,
    duplicate,
    forbidden,
    invalid,
    not_supported,
    required,
    too_many,
)
from apimachinery.resources import BY_KEY
from apimachinery.validation import (
    GoValue,
    go_string_list,
    is_canonical_cidr,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_dual_stack,
    is_qualified_name,
    is_valid_cidr,
    is_valid_ip,
    is_valid_ipv4_address,
    is_valid_ipv6_address,
    is_valid_label_value,
    is_valid_path_segment_name,
    is_valid_port_num,
    name_is_canonical_ip,
    name_is_dns_label,
    name_is_path_segment,
    non_special_ip_errors,
    validate_fqdn,
    validate_immutable,
    validate_label_name,
    validate_labels,
)
from apiserver.admission.base import (
    Admission,
    Obj,
    StatusResetAdmission,
    as_int,
    as_list,
    as_map,
    as_str,
    semantic_equal,
    spec_of,
)

PROTOCOLS = ["SCTP", "TCP", "UDP"]
STANDARD_FINALIZERS = ("kubernetes", "orphan", "foregroundDeletion")
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def _dns_label_errors(value: str, path: str) -> list[FieldError]:
    return [invalid(path, value, m) for m in is_dns1123_label(value)]


def endpoint_ip_errors(ip: str) -> list[str]:
    """ValidateNonSpecialIP, except that loopback is allowed: a kubelite deviation (issue 10).

    kubelite's process runtime gives Pods loopback IPs (127.10.0.0/16) so that
    they really answer on this host; their Endpoints and EndpointSlices must
    be storable. Unspecified and link-local addresses stay refused.
    """
    return [m for m in non_special_ip_errors(ip) if not m.startswith("may not be in the loopback range")]


def _endpoint_address_errors(ip: str, path: str) -> list[FieldError]:
    """IsValidIP followed by ValidateNonSpecialIP, as Endpoints and externalIPs are checked."""
    return [invalid(path, ip, m) for m in is_valid_ip(ip)] + [invalid(path, ip, m) for m in non_special_ip_errors(ip)]


# ---------------------------------------------------------------------------
# Namespace (pkg/registry/core/namespace/strategy.go, ValidateNamespace)
# ---------------------------------------------------------------------------


class NamespaceAdmission(StatusResetAdmission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["namespaces"])

    def name_validator(self, name: str) -> list[str]:
        return name_is_dns_label(name)

    def default(self, obj: Obj) -> None:
        meta = obj.get("metadata")
        if isinstance(meta, dict) and meta.get("name"):
            labels = as_map(meta.get("labels"))
            labels[NAMESPACE_NAME_LABEL] = meta["name"]
            meta["labels"] = labels
        status = obj.get("status")
        if isinstance(status, dict) and not status.get("phase"):
            status["phase"] = "Active"

    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Active"}
        spec = spec_of(obj)
        finalizers = list(as_list(spec.get("finalizers")))
        if "kubernetes" not in finalizers:
            finalizers.append("kubernetes")
        spec["finalizers"] = finalizers

    def prepare_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_update(obj, old)
        obj["spec"] = as_map(old.get("spec"))  # finalizers change only through /finalize

    def validate_create(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        for name in as_list(as_map(obj.get("spec")).get("finalizers")):
            errs += finalizer_name_errors(str(name), "spec.finalizers")
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return []

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        phase = as_map(obj.get("status")).get("phase")
        if not as_map(obj.get("metadata")).get("deletionTimestamp"):
            if phase != "Active":
                return [invalid("status.Phase", phase or "", "may only be 'Active' if `deletionTimestamp` is empty")]
        elif phase != "Terminating":
            return [invalid("status.Phase", phase or "", "may only be 'Terminating' if `deletionTimestamp` is not empty")]
        return []


def finalizer_name_errors(name: str, path: str) -> list[FieldError]:
    """validateFinalizerName: a qualified name, and unqualified ones must be standard."""
    errs = [invalid(path, name, m) for m in is_qualified_name(name)]
    if "/" not in name and name not in STANDARD_FINALIZERS:
        errs.append(invalid(path, name, "name is neither a standard finalizer name nor is it fully qualified"))
    return errs


# ---------------------------------------------------------------------------
# Endpoints (ValidateEndpoints, SetDefaults_Endpoints)
# ---------------------------------------------------------------------------


class EndpointsAdmission(Admission):
    """Endpoints names are DNS-1123 subdomains (ValidateEndpointsName), not the Service's DNS-1035 rule."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["endpoints"])

    def default(self, obj: Obj) -> None:
        for subset in as_list(obj.get("subsets")):
            for port in as_list(as_map(subset).get("ports")):
                if isinstance(port, dict) and not port.get("protocol"):
                    port["protocol"] = "TCP"

    def validate_create(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        for i, subset in enumerate(as_list(obj.get("subsets"))):
            subset = as_map(subset)
            path = f"subsets[{i}]"
            addresses, not_ready = as_list(subset.get("addresses")), as_list(subset.get("notReadyAddresses"))
            if not addresses and not not_ready:
                errs.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
            for key, group in (("addresses", addresses), ("notReadyAddresses", not_ready)):
                for j, address in enumerate(group):
                    errs += _endpoint_address(as_map(address), f"{path}.{key}[{j}]")
            ports = as_list(subset.get("ports"))
            for j, port in enumerate(ports):
                errs += _endpoint_port(as_map(port), f"{path}.ports[{j}]", require_name=len(ports) > 1)
        return errs


def _endpoint_address(address: dict[str, Any], path: str) -> list[FieldError]:
    ip = as_str(address.get("ip"))
    errs = [invalid(f"{path}.ip", ip, m) for m in is_valid_ip(ip)]
    hostname = as_str(address.get("hostname"))
    if hostname:
        errs += _dns_label_errors(hostname, f"{path}.hostname")
    node_name = address.get("nodeName")
    if node_name is not None:
        errs += [invalid(f"{path}.nodeName", node_name, m) for m in is_dns1123_subdomain(as_str(node_name))]
    return errs + [invalid(f"{path}.ip", ip, m) for m in endpoint_ip_errors(ip)]


def _endpoint_port(port: dict[str, Any], path: str, *, require_name: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    name = as_str(port.get("name"))
    if require_name and not name:
        errs.append(required(f"{path}.name"))
    elif name:
        errs += _dns_label_errors(name, f"{path}.name")
    number = as_int(port.get("port")) or 0
    errs += [invalid(f"{path}.port", number, m) for m in is_valid_port_num(number)]
    protocol = as_str(port.get("protocol"))
    if not protocol:
        errs.append(required(f"{path}.protocol"))
    elif protocol not in PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
    if port.get("appProtocol") is not None:
        app = as_str(port.get("appProtocol"))
        errs += [invalid(f"{path}.appProtocol", app, m) for m in is_qualified_name(app)]
    return errs


# ---------------------------------------------------------------------------
# Node (ValidateNode, ValidateNodeUpdate, node strategy)
# ---------------------------------------------------------------------------


class NodeAdmission(Admission):
    """Nodes may carry status on create (the agent registers with it); updates keep it."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["nodes"])

    def default(self, obj: Obj) -> None:
        spec = spec_of(obj)
        cidrs = as_list(spec.get("podCIDRs"))
        if spec.get("podCIDR") and not cidrs:
            spec["podCIDRs"] = [spec["podCIDR"]]
        elif cidrs and not spec.get("podCIDR"):
            spec["podCIDR"] = cidrs[0]
        status = obj.get("status")
        if isinstance(status, dict) and status.get("allocatable") is None and status.get("capacity") is not None:
            status["allocatable"] = dict(as_map(status.get("capacity")))

    def prepare_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_update(obj, old)
        if "status" in old:
            obj["status"] = old["status"]

    def validate_create(self, obj: Obj) -> list[FieldError]:
        spec = as_map(obj.get("spec"))
        errs = node_taint_errors(as_list(spec.get("taints")), "metadata.taints")  # sic: kube-apiserver's path
        cidrs = [str(c) for c in as_list(spec.get("podCIDRs"))]
        cidr_errs = [invalid(f"spec.podCIDRs[{i}]", c, m) for i, c in enumerate(cidrs) for m in is_valid_cidr(c)]
        errs += cidr_errs
        if len(cidrs) > 1 and not cidr_errs:
            if len(cidrs) > 2 or not is_dual_stack(cidrs, cidrs=True):
                errs.append(invalid("spec.podCIDRs", go_string_list(cidrs),
                                    "may specify no more than one CIDR for each IP family"))
            seen: set[str] = set()
            for i, cidr in enumerate(cidrs):
                if cidr in seen:
                    errs.append(duplicate(f"spec.podCIDRs[{i}]", cidr))
                seen.add(cidr)
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        spec, old_spec = as_map(obj.get("spec")), as_map(old.get("spec"))
        errs = _duplicate_address_errors(as_map(obj.get("status")))
        old_cidrs, cidrs = as_list(old_spec.get("podCIDRs")), as_list(spec.get("podCIDRs"))
        if old_cidrs:
            why = 'node updates may not change podCIDR except from "" to valid'
            if len(old_cidrs) != len(cidrs):
                errs.append(forbidden("spec.podCIDRs", why))
            else:
                errs += [forbidden("spec.podCIDRs", why) for a, b in zip(old_cidrs, cidrs, strict=True) if a != b]
        old_provider = as_str(old_spec.get("providerID"))
        if old_provider and old_provider != as_str(spec.get("providerID")):
            errs.append(forbidden("spec.providerID", 'node updates may not change providerID except from "" to valid'))
        errs += node_taint_errors(as_list(spec.get("taints")), "metadata.taints")
        if as_str(spec.get("externalID")) != as_str(old_spec.get("externalID")):
            errs.append(forbidden("spec.externalID", "may not be updated"))
        return errs

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return _duplicate_address_errors(as_map(obj.get("status")))


def _duplicate_address_errors(status: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: list[dict[str, Any]] = []
    for i, address in enumerate(as_list(status.get("addresses"))):
        address = as_map(address)
        if address in seen:
            shown = GoValue('core.NodeAddress{Type:"' + as_str(address.get("type")) + '", Address:"'
                            + as_str(address.get("address")) + '"}')
            errs.append(duplicate(f"status.addresses[{i}]", shown))
        seen.append(address)
    return errs


def node_taint_errors(taints: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    unique: dict[str, set[str]] = {}
    effects = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
    for i, taint in enumerate(taints):
        taint = as_map(taint)
        p = f"{path}[{i}]"
        key, value, effect = as_str(taint.get("key")), as_str(taint.get("value")), as_str(taint.get("effect"))
        errs += validate_label_name(key, f"{p}.key")
        msgs = is_valid_label_value(value)
        if msgs:
            errs.append(invalid(f"{p}.value", value, ";".join(msgs)))
        if not effect:
            errs.append(required(f"{p}.effect"))
        elif effect not in effects:
            errs.append(not_supported(f"{p}.effect", effect, effects))
        if key in unique.get(effect, set()):
            shown = GoValue('core.Taint{Key:"' + key + '", Value:"' + value + '", Effect:"' + effect
                            + '", TimeAdded:<nil>}')
            err = duplicate(p, shown)
            errs.append(FieldError(err.type, err.field, err.value, "taints must be unique by key and effect pair"))
            continue
        unique.setdefault(effect, set()).add(key)
    return errs


# ---------------------------------------------------------------------------
# Event, core/v1 (legacyValidateEvent)
# ---------------------------------------------------------------------------


class EventAdmission(Admission):
    """core/v1 Events get only legacy validation; names just need to be path segments.

    Kubernetes does not require involvedObject for v1 Events, so neither do we.
    """

    def __init__(self) -> None:
        super().__init__(BY_KEY["events"])

    def name_validator(self, name: str) -> list[str]:
        return name_is_path_segment(name)

    def validate_create(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        namespace = as_str(as_map(obj.get("metadata")).get("namespace"))
        involved_ns = as_str(as_map(obj.get("involvedObject")).get("namespace"))
        if not obj.get("eventTime"):
            if not involved_ns:
                if namespace not in ("", "default"):
                    errs.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
            elif namespace != involved_ns:
                errs.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
        else:
            if not involved_ns and namespace not in ("default", "kube-system"):
                errs.append(invalid("involvedObject.namespace", involved_ns, "does not match event.namespace"))
            controller = as_str(obj.get("reportingComponent"))
            if not controller:
                errs.append(required("reportingController"))
            errs += [invalid("reportingController", controller, m) for m in is_qualified_name(controller)]
            for key, field, limit in (("reportingInstance", "reportingInstance", 128), ("action", "action", 128),
                                      ("reason", "reason", 128)):
                value = as_str(obj.get(key))
                if not value:
                    errs.append(required(field))
                if len(value) > limit:
                    errs.append(invalid(field, "", f"can have at most {limit} characters"))
            if len(as_str(obj.get("message"))) > 1024:
                errs.append(invalid("message", "", "can have at most 1024 characters"))
        errs += [invalid("namespace", namespace, m) for m in is_dns1123_subdomain(namespace)]
        return errs


# ---------------------------------------------------------------------------
# EndpointSlice, discovery.k8s.io/v1 (ValidateEndpointSlice)
# ---------------------------------------------------------------------------

ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]


class EndpointSliceAdmission(Admission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["endpointslices.discovery.k8s.io"])

    def default(self, obj: Obj) -> None:
        for port in as_list(obj.get("ports")):
            if isinstance(port, dict):
                if port.get("name") is None:
                    port["name"] = ""
                if port.get("protocol") is None:
                    port["protocol"] = "TCP"

    def validate_create(self, obj: Obj) -> list[FieldError]:
        errs: list[FieldError] = []
        address_type = as_str(obj.get("addressType"))
        if not address_type:
            errs.append(required("addressType"))
        elif address_type not in ADDRESS_TYPES:
            errs.append(not_supported("addressType", address_type, ADDRESS_TYPES))
        errs += _slice_endpoint_errors(as_list(obj.get("endpoints")), address_type)
        errs += _slice_port_errors(as_list(obj.get("ports")))
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return self.validate_create(obj) + validate_immutable(obj.get("addressType"), old.get("addressType"),
                                                               "addressType")


def _slice_endpoint_errors(endpoints: list[Any], address_type: str) -> list[FieldError]:
    if len(endpoints) > 1000:
        return [too_many("endpoints", len(endpoints), 1000)]
    errs: list[FieldError] = []
    for i, ep in enumerate(endpoints):
        ep = as_map(ep)
        path = f"endpoints[{i}]"
        addresses = [str(a) for a in as_list(ep.get("addresses"))]
        if not addresses:
            errs.append(required(f"{path}.addresses", "must contain at least 1 address"))
        elif len(addresses) > 100:
            errs.append(too_many(f"{path}.addresses", len(addresses), 100))
        for j, address in enumerate(addresses):
            apath = f"{path}.addresses[{j}]"
            if address_type == "IPv4":
                errs += [invalid(apath, address, m) for m in is_valid_ipv4_address(address)]
                errs += [invalid(apath, address, m) for m in endpoint_ip_errors(address)]
            elif address_type == "IPv6":
                errs += [invalid(apath, address, m) for m in is_valid_ipv6_address(address)]
                errs += [invalid(apath, address, m) for m in endpoint_ip_errors(address)]
            elif address_type == "FQDN":
                errs += validate_fqdn(apath, address)
        if ep.get("nodeName") is not None:
            node = as_str(ep.get("nodeName"))
            errs += [invalid(f"{path}.nodeName", node, m) for m in is_dns1123_subdomain(node)]
        topology = as_map(ep.get("deprecatedTopology"))
        if len(topology) > 16:
            errs.append(too_many(f"{path}.deprecatedTopology", len(topology), 16))
        errs += validate_labels(topology, f"{path}.deprecatedTopology")
        if ep.get("hostname") is not None:
            errs += _dns_label_errors(as_str(ep.get("hostname")), f"{path}.hostname")
    return errs


def _slice_port_errors(ports: list[Any]) -> list[FieldError]:
    if len(ports) > 100:
        return [too_many("ports", len(ports), 100)]
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        port = as_map(port)
        path = f"ports[{i}]"
        name = as_str(port.get("name"))
        if name:
            errs += _dns_label_errors(name, f"{path}.name")
        if name in names:
            errs.append(duplicate(f"{path}.name", name))
        names.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            errs.append(required(f"{path}.protocol"))
        elif protocol not in PROTOCOLS:
            errs.append(not_supported(f"{path}.protocol", protocol, PROTOCOLS))
        if port.get("appProtocol") is not None:
            app = as_str(port.get("appProtocol"))
            errs += [invalid(f"{path}.appProtocol", app, m) for m in is_qualified_name(app)]
    return errs


# ---------------------------------------------------------------------------
# Lease, coordination.k8s.io/v1 (ValidateLeaseSpec)
# ---------------------------------------------------------------------------


class LeaseAdmission(Admission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["leases.coordination.k8s.io"])

    def validate_create(self, obj: Obj) -> list[FieldError]:
        spec = as_map(obj.get("spec"))
        errs: list[FieldError] = []
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and (as_int(duration) is None or duration <= 0):
            errs.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
        transitions = spec.get("leaseTransitions")
        if transitions is not None and (as_int(transitions) is None or transitions < 0):
            errs.append(invalid("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
        strategy = spec.get("strategy")
        if strategy is not None:
            strategy = as_str(strategy)
            if "/" not in strategy:
                if strategy != "OldestEmulationVersion":
                    errs.append(not_supported("spec.strategy.strategy", strategy, ["OldestEmulationVersion"]))
            else:
                errs += [invalid("spec.strategy.strategy", strategy, m) for m in is_qualified_name(strategy)]
        if as_str(spec.get("preferredHolder")) and not as_str(strategy):
            errs.append(forbidden("spec.preferredHolder", "may only be specified if `strategy` is defined"))
        return errs


# ---------------------------------------------------------------------------
# IPAddress, networking.k8s.io/v1 (ValidateIPAddress)
# ---------------------------------------------------------------------------


class IPAddressAdmission(Admission):
    """The name is the address itself, canonical; it is never generated (noopNameGenerator)."""

    def __init__(self) -> None:
        super().__init__(BY_KEY["ipaddresses.networking.k8s.io"])

    def name_validator(self, name: str) -> list[str]:
        return name_is_canonical_ip(name)

    def generate_name(self, base: str) -> str:
        return base

    def validate_create(self, obj: Obj) -> list[FieldError]:
        ref = as_map(obj.get("spec")).get("parentRef")
        if ref is None:
            return [required("spec.parentRef")]
        ref = as_map(ref)
        path = "spec.parentRef"
        errs: list[FieldError] = []
        group = as_str(ref.get("group"))
        if group:
            errs += [invalid(f"{path}.group", group, m) for m in is_dns1123_subdomain(group)]
        for key in ("resource", "name"):
            value = as_str(ref.get(key))
            if not value:
                errs.append(required(f"{path}.{key}"))
            else:
                errs += [invalid(f"{path}.{key}", value, m) for m in is_valid_path_segment_name(value)]
        namespace = as_str(ref.get("namespace"))
        if namespace:
            errs += [invalid(f"{path}.namespace", namespace, m) for m in is_valid_path_segment_name(namespace)]
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        new_ref, old_ref = as_map(obj.get("spec")).get("parentRef"), as_map(old.get("spec")).get("parentRef")
        if semantic_equal(new_ref, old_ref):
            return []
        return [invalid("spec.parentRef", _go_parent_ref(new_ref), "field is immutable")]


def _go_parent_ref(ref: Any) -> Any:
    if ref is None:
        return None
    ref = as_map(ref)
    fields = ", ".join(f'{go}:"{as_str(ref.get(js))}"' for go, js in
                       (("Group", "group"), ("Resource", "resource"), ("Namespace", "namespace"), ("Name", "name")))
    return GoValue("networking.ParentReference{" + fields + "}")


# ---------------------------------------------------------------------------
# ServiceCIDR, networking.k8s.io/v1 (ValidateServiceCIDR)
# ---------------------------------------------------------------------------


class ServiceCIDRAdmission(StatusResetAdmission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["servicecidrs.networking.k8s.io"])

    def validate_create(self, obj: Obj) -> list[FieldError]:
        cidrs = [str(c) for c in as_list(as_map(obj.get("spec")).get("cidrs"))]
        path = "spec.cidrs"
        if not cidrs:
            return [required(path, "at least one CIDR required")]
        shown = GoValue("networking.ServiceCIDRSpec{CIDRs:" + str(go_string_list(cidrs)) + "}")
        if len(cidrs) > 2:
            return [invalid(path, shown, "may only hold up to 2 values")]
        if len(cidrs) == 2 and not is_dual_stack(cidrs, cidrs=True):
            return [invalid(path, shown, "may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and "
                            "2001:db8::/64")]
        errs: list[FieldError] = []
        for i, cidr in enumerate(cidrs):
            errs += [invalid(f"{path}[{i}]", cidr, m) for m in is_canonical_cidr(cidr)]
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        new, prev = as_list(as_map(obj.get("spec")).get("cidrs")), as_list(as_map(old.get("spec")).get("cidrs"))
        if semantic_equal(new, prev):
            return []
        return [invalid("spec.cidrs", go_string_list(new), "field is immutable")]
