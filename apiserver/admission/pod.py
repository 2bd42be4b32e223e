"""Pod admission: v1 defaults, the default-on admission plugins, ValidatePodCreate/Update.

Why: kubelite runs pods as local processes, but clients (kubectl run, apply,
client libraries) expect kube-apiserver's defaults in what they read back
and its exact messages in what they get rejected with. Sources:
pkg/apis/core/v1/defaults.go (SetDefaults_Pod/PodSpec/Container/Probe...),
pkg/apis/core/validation (ValidatePodSpec, ValidatePodCreate, ValidatePodUpdate),
pkg/registry/core/pod/strategy.go and the Priority / DefaultTolerationSeconds
admission plugins. Volume sources, affinity, resources and security contexts
are checked only shallowly: kubelite never acts on them.
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
from apimachinery.objects import as_list, as_map, as_str
from apimachinery.pods import qos_class
from apimachinery.quantity import QuantityError, canonical
from apimachinery.resources import BY_KEY
from apimachinery.validation import (
    GoValue,
    inclusive_range_error,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_dual_stack,
    is_qualified_name,
    is_relaxed_env_var_name,
    is_valid_ip,
    is_valid_label_value,
    is_valid_port_name,
    is_valid_port_num,
    validate_label_name,
    validate_labels,
    validate_nonnegative,
)
from apiserver.admission.base import (
    Admission,
    Obj,
    as_int,
    not_found,
    semantic_equal,
    spec_of,
)
from apiserver.admission.configmap import is_config_map_key
from apiserver.admission.service import port_num_or_name_errors

MAX_INT32 = 2147483647
MAX_ID = 4294967295
DEFAULT_TERMINATION_GRACE_PERIOD = 30
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_TOLERATION_SECONDS = 300

PROTOCOLS = ["SCTP", "TCP", "UDP"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
TERMINATION_MESSAGE_POLICIES = ["File", "FallbackToLogsOnError"]
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
TOLERATION_OPERATORS = ["Equal", "Exists"]
PREEMPTION_POLICIES = ["PreemptLowerPriority", "Never"]
HTTP_SCHEMES = ["HTTP", "HTTPS"]

UPDATABLE_POD_SPEC_FIELDS = [
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
]

VOLUME_SOURCES = (
    "hostPath", "emptyDir", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "secret", "nfs", "iscsi",
    "glusterfs", "persistentVolumeClaim", "rbd", "flexVolume", "cinder", "cephfs", "flocker", "downwardAPI", "fc",
    "azureFile", "configMap", "vsphereVolume", "quobyte", "azureDisk", "photonPersistentDisk", "projected",
    "portworxVolume", "scaleIO", "storageos", "csi", "ephemeral", "image",
)
_MODE_SOURCES = ("secret", "configMap", "downwardAPI", "projected")
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")


# ---------------------------------------------------------------------------
# Defaults
# ---------------------------------------------------------------------------


def _image_tag(image: str) -> str | None:
    """parsers.ParseImageName's tag: "latest" when neither tag nor digest; None if unparseable."""
    name, _, digest = image.partition("@")
    head, slash, last = name.rpartition("/")
    repo_last, colon, tag = last.partition(":")
    repo = head + slash + repo_last
    if not repo or image != image.strip() or (colon and not tag) or any(c.isupper() for c in repo):
        return None
    return tag or ("" if digest else "latest")


def _default_handler(handler: Any) -> None:
    http = as_map(handler).get("httpGet")
    if isinstance(http, dict):
        http.setdefault("path", "/")
        if not http.get("path"):
            http["path"] = "/"
        if not http.get("scheme"):
            http["scheme"] = "HTTP"


def default_container(c: dict[str, Any]) -> None:
    """SetDefaults_Container plus the nested defaults of its ports, env and probes."""
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = "Always" if _image_tag(as_str(c.get("image"))) == "latest" else "IfNotPresent"
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = TERMINATION_MESSAGE_PATH
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    if not isinstance(c.get("resources"), dict):
        c["resources"] = {}
    for port in as_list(c.get("ports")):
        if isinstance(port, dict) and not port.get("protocol"):
            port["protocol"] = "TCP"
    for env in as_list(c.get("env")):
        ref = as_map(as_map(env).get("valueFrom")).get("fieldRef")
        if isinstance(ref, dict) and not ref.get("apiVersion"):
            ref["apiVersion"] = "v1"
    for probe_name in _PROBES:
        probe = c.get(probe_name)
        if isinstance(probe, dict):
            for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                               ("failureThreshold", 3)):
                if not probe.get(key):
                    probe[key] = value
            _default_handler(probe)
    lifecycle = as_map(c.get("lifecycle"))
    for hook in ("postStart", "preStop"):
        _default_handler(lifecycle.get(hook))


def _containers(spec: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [c for c in as_list(spec.get(key)) if isinstance(c, dict)]


def default_pod_spec(spec: dict[str, Any]) -> None:
    """SetDefaults_PodSpec and the nested container/volume defaults: a Pod's and every template's.

    A template gets no more than this: enableServiceLinks, priority,
    tolerations and requests-from-limits come from SetDefaults_Pod and the
    admission plugins that run only when the Pod itself is created.
    """
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if not isinstance(spec.get("securityContext"), dict):
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_TERMINATION_GRACE_PERIOD
    if not spec.get("schedulerName"):
        spec["schedulerName"] = "default-scheduler"
    mirror_service_account(spec)
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for c in _containers(spec, key):
            default_container(c)
    for vol in as_list(spec.get("volumes")):
        if not isinstance(vol, dict):
            continue
        if not any(k in vol for k in VOLUME_SOURCES):
            vol["emptyDir"] = {}
        for key in _MODE_SOURCES:
            source = vol.get(key)
            if isinstance(source, dict) and source.get("defaultMode") is None:
                source["defaultMode"] = 420
        for item in _downward_items(vol):
            ref = as_map(item).get("fieldRef")
            if isinstance(ref, dict) and not ref.get("apiVersion"):
                ref["apiVersion"] = "v1"  # SetDefaults_ObjectFieldSelector
        host_path = vol.get("hostPath")
        if isinstance(host_path, dict) and host_path.get("type") is None:
            host_path["type"] = ""


# ---------------------------------------------------------------------------
# Admission
# ---------------------------------------------------------------------------


def mirror_service_account(spec: dict[str, Any]) -> None:
    """The v1 conversion of a PodSpec: the deprecated serviceAccount stands in for an empty
    serviceAccountName, and is written back as serviceAccountName's copy."""
    name = as_str(spec.get("serviceAccountName")) or as_str(spec.get("serviceAccount"))
    if name:
        spec["serviceAccountName"] = spec["serviceAccount"] = name


class PodAdmission(Admission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["pods"])

    def default(self, obj: Obj) -> None:
        spec = spec_of(obj)
        for c in _containers(spec, "containers") + _containers(spec, "initContainers"):
            res = as_map(c.get("resources"))
            limits = as_map(res.get("limits"))
            if limits:
                requests = as_map(res.get("requests"))
                for key, value in limits.items():
                    requests.setdefault(key, value)
                res["requests"] = requests
                c["resources"] = res
        if spec.get("enableServiceLinks") is None:
            spec["enableServiceLinks"] = True
        if spec.get("hostNetwork") is True:
            for c in _containers(spec, "containers") + _containers(spec, "initContainers"):
                for port in as_list(c.get("ports")):
                    if isinstance(port, dict) and not port.get("hostPort"):
                        port["hostPort"] = port.get("containerPort")
        default_pod_spec(spec)
        # The Priority and DefaultTolerationSeconds admission plugins (on by default) fill these on
        # create; they are idempotent, so applying them on every write keeps replaces working.
        if not spec.get("priorityClassName") and spec.get("priority") is None:
            spec["priority"] = 0
        if spec.get("priority") is not None and spec.get("preemptionPolicy") is None:
            spec["preemptionPolicy"] = "PreemptLowerPriority"
        tolerations = list(as_list(spec.get("tolerations")))
        for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
            tolerated = any(
                as_map(t).get("key") in (key, None, "") and as_map(t).get("effect") in ("NoExecute", None, "")
                for t in tolerations
            )
            if not tolerated:
                tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                    "tolerationSeconds": DEFAULT_TOLERATION_SECONDS})
        spec["tolerations"] = tolerations

    def prepare_create(self, obj: Obj) -> None:
        """Pod strategy PrepareForCreate: status starts Pending with the computed QoS class."""
        spec = spec_of(obj)
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}

    def prepare_update(self, obj: Obj, old: Obj) -> None:
        super().prepare_update(obj, old)
        if "status" in old:
            obj["status"] = old["status"]

    def validate_create(self, obj: Obj) -> list[FieldError]:
        spec = as_map(obj.get("spec"))
        errs = validate_pod_spec(spec, "spec")
        errs += _image_whitespace_errors(spec)
        if as_list(spec.get("ephemeralContainers")):
            errs.append(forbidden("spec.ephemeralContainers", "cannot be set on create"))
        if spec.get("nodeName") and as_list(spec.get("schedulingGates")):
            errs.append(forbidden("spec.nodeName", "cannot be set until all schedulingGates have been cleared"))
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        spec, old_spec = as_map(obj.get("spec")), as_map(old.get("spec"))
        errs = validate_pod_spec(spec, "spec") + _image_whitespace_errors(spec)
        for key in ("containers", "initContainers"):
            new_cs, old_cs = as_list(spec.get(key)), as_list(old_spec.get(key))
            if len(new_cs) != len(old_cs):
                return [*errs, forbidden(f"spec.{key}", "pod updates may not add or remove containers")]
            for i, c in enumerate(new_cs):
                image = as_str(as_map(c).get("image"))
                if not image:
                    errs.append(required(f"spec.{key}[{i}].image"))
                if image.strip() != image:
                    errs.append(invalid(f"spec.{key}[{i}].image", image, "must not have leading or trailing whitespace"))
        new_ads, old_ads = spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
        if new_ads is not None:
            value = as_int(new_ads)
            if value is None or value < 0 or value > MAX_INT32:
                return [*errs, invalid("spec.activeDeadlineSeconds", new_ads, inclusive_range_error(0, MAX_INT32))]
            previous = as_int(old_ads)
            if previous is not None and previous < value:
                return [*errs, invalid("spec.activeDeadlineSeconds", value, "must be less than or equal to previous value")]
        elif old_ads is not None:
            errs.append(invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
        errs += _only_added_tolerations(as_list(spec.get("tolerations")), as_list(old_spec.get("tolerations")))
        errs += _only_deleted_gates(as_list(spec.get("schedulingGates")), as_list(old_spec.get("schedulingGates")))
        if semantic_equal(spec, old_spec):
            return errs
        munged = json.loads(json.dumps(spec))
        for key in ("containers", "initContainers"):
            for c, old_c in zip(as_list(munged.get(key)), as_list(old_spec.get(key)), strict=False):
                if isinstance(c, dict):
                    c["image"] = as_map(old_c).get("image")
        for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
            munged.pop(key, None)
            if key in old_spec:
                munged[key] = old_spec[key]
        old_grace = as_int(old_spec.get("terminationGracePeriodSeconds"))
        if old_grace is not None and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
            munged["terminationGracePeriodSeconds"] = old_grace
        if not semantic_equal(munged, old_spec):
            detail = ("pod updates may not change fields other than " + ",".join(UPDATABLE_POD_SPEC_FIELDS)
                      + "\n" + spec_diff(old_spec, munged))
            errs.append(forbidden("spec", detail))
        return errs

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        return validate_pod_status(as_map(obj.get("status")))


# ---------------------------------------------------------------------------
# ValidatePodSpec
# ---------------------------------------------------------------------------


def validate_pod_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is None:
        errs.append(required(f"{path}.terminationGracePeriodSeconds"))
    volumes = _validate_volumes(as_list(spec.get("volumes")), f"{path}.volumes", errs)
    restart_policy = as_str(spec.get("restartPolicy"))
    errs += _validate_containers(spec, volumes, path, grace=as_int(grace))
    errs += _validate_init_containers(spec, volumes, path, grace=as_int(grace))
    errs += _host_network_errors(spec, path)
    if not restart_policy:
        errs.append(required(f"{path}.restartPolicy"))
    elif restart_policy not in RESTART_POLICIES:
        errs.append(not_supported(f"{path}.restartPolicy", restart_policy, RESTART_POLICIES))
    dns_policy = as_str(spec.get("dnsPolicy"))
    if not dns_policy:
        errs.append(required(f"{path}.dnsPolicy"))
    elif dns_policy not in DNS_POLICIES:
        errs.append(not_supported(f"{path}.dnsPolicy", dns_policy, DNS_POLICIES))
    errs += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    errs += _security_context_errors(as_map(spec.get("securityContext")), f"{path}.securityContext", pod=True)
    for i, secret in enumerate(as_list(spec.get("imagePullSecrets"))):
        if set(as_map(secret)) - {"name"}:
            errs.append(invalid(f"{path}.imagePullSecrets[{i}]", secret, "only name may be set"))
    errs += _dns_config_errors(spec.get("dnsConfig"), dns_policy, f"{path}.dnsConfig")
    for i, gate in enumerate(as_list(spec.get("readinessGates"))):
        ctype = as_str(as_map(gate).get("conditionType"))
        errs += [invalid(f"{path}.readinessGates[{i}].conditionType", ctype, m) for m in is_qualified_name(ctype)]
    seen_gates: set[str] = set()
    for i, gate in enumerate(as_list(spec.get("schedulingGates"))):
        name = as_str(as_map(gate).get("name"))
        errs += [invalid(f"{path}.schedulingGates[{i}]", name, m) for m in is_qualified_name(name)]
        if name in seen_gates:
            errs.append(duplicate(f"{path}.schedulingGates[{i}]", name))
        seen_gates.add(name)
    for key in ("serviceAccountName", "nodeName"):
        value = as_str(spec.get(key))
        if value:
            errs += [invalid(f"{path}.{key}", value, m) for m in is_dns1123_subdomain(value)]
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None:
        seconds = as_int(ads)
        if seconds is None or seconds < 1 or seconds > MAX_INT32:
            errs.append(invalid(f"{path}.activeDeadlineSeconds", ads, inclusive_range_error(1, MAX_INT32)))
    for key in ("hostname", "subdomain"):
        value = as_str(spec.get(key))
        if value:
            errs += [invalid(f"{path}.{key}", value, m) for m in is_dns1123_label(value)]
    errs += validate_tolerations(as_list(spec.get("tolerations")), f"{path}.tolerations")
    for i, alias in enumerate(as_list(spec.get("hostAliases"))):
        alias = as_map(alias)
        ip = as_str(alias.get("ip"))
        errs += [invalid(f"{path}.hostAliases[{i}].ip", ip, m) for m in is_valid_ip(ip)]
        for j, host in enumerate(as_list(alias.get("hostnames"))):
            errs += [invalid(f"{path}.hostAliases[{i}].hostnames[{j}]", host, m) for m in is_dns1123_subdomain(str(host))]
    pcn = as_str(spec.get("priorityClassName"))
    if pcn:
        errs += [invalid(f"{path}.priorityClassName", pcn, m) for m in is_dns1123_subdomain(pcn)]
    preemption = spec.get("preemptionPolicy")
    if preemption is not None:
        if not preemption:
            errs.append(required(f"{path}.preemptionPolicy"))
        elif preemption not in PREEMPTION_POLICIES:
            errs.append(not_supported(f"{path}.preemptionPolicy", preemption, PREEMPTION_POLICIES))
    return errs


def _validate_volumes(volumes: list[Any], path: str, errs: list[FieldError]) -> set[str]:
    names: set[str] = set()
    for i, vol in enumerate(volumes):
        vol = as_map(vol)
        name = as_str(vol.get("name"))
        el: list[FieldError] = []
        sources = [k for k in VOLUME_SOURCES if vol.get(k) is not None]
        for extra in sources[1:]:
            el.append(forbidden(f"{path}[{i}].{extra}", "may not specify more than 1 volume type"))
        if not sources:
            el.append(required(f"{path}[{i}]", "must specify a volume type"))
        else:
            el += _volume_source_errors(vol, f"{path}[{i}]")
        if not name:
            el.append(required(f"{path}[{i}].name"))
        else:
            el += [invalid(f"{path}[{i}].name", name, m) for m in is_dns1123_label(name)]
        if name in names:
            el.append(duplicate(f"{path}[{i}].name", name))
        if el:
            errs.extend(el)
        else:
            names.add(name)
    return names


def _validate_container_common(c: dict[str, Any], volumes: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    name = as_str(c.get("name"))
    if not name:
        errs.append(required(f"{path}.name"))
    else:
        errs += [invalid(f"{path}.name", name, m) for m in is_dns1123_label(name)]
    if not as_str(c.get("image")):
        errs.append(required(f"{path}.image"))
    tmp = as_str(c.get("terminationMessagePolicy"))
    if not tmp:
        errs.append(required(f"{path}.terminationMessagePolicy"))
    elif tmp not in TERMINATION_MESSAGE_POLICIES:
        errs.append(not_supported(f"{path}.terminationMessagePolicy", tmp, TERMINATION_MESSAGE_POLICIES))
    errs += validate_container_ports(as_list(c.get("ports")), f"{path}.ports")
    errs += _env_errors(as_list(c.get("env")), f"{path}.env")
    errs += _env_from_errors(as_list(c.get("envFrom")), f"{path}.envFrom")
    errs += _volume_mount_errors(as_list(c.get("volumeMounts")), volumes, f"{path}.volumeMounts")
    policy = as_str(c.get("imagePullPolicy"))
    if not policy:
        errs.append(required(f"{path}.imagePullPolicy"))
    elif policy not in PULL_POLICIES:
        errs.append(not_supported(f"{path}.imagePullPolicy", policy, PULL_POLICIES))
    errs += _security_context_errors(as_map(c.get("securityContext")), f"{path}.securityContext", pod=False)
    return errs


def validate_container_ports(ports: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(ports):
        port = as_map(port)
        p = f"{path}[{i}]"
        name = as_str(port.get("name"))
        if name:
            msgs = is_valid_port_name(name)
            if msgs:
                errs += [invalid(f"{p}.name", name, m) for m in msgs]
            elif name in names:
                errs.append(duplicate(f"{p}.name", name))
            else:
                names.add(name)
        cp = as_int(port.get("containerPort")) or 0
        if cp == 0:
            errs.append(required(f"{p}.containerPort"))
        else:
            errs += [invalid(f"{p}.containerPort", cp, m) for m in is_valid_port_num(cp)]
        hp = as_int(port.get("hostPort")) or 0
        if hp:
            errs += [invalid(f"{p}.hostPort", hp, m) for m in is_valid_port_num(hp)]
        protocol = as_str(port.get("protocol"))
        if not protocol:
            errs.append(required(f"{p}.protocol"))
        elif protocol not in PROTOCOLS:
            errs.append(not_supported(f"{p}.protocol", protocol, PROTOCOLS))
    return errs


def _env_errors(env: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, ev in enumerate(env):
        ev = as_map(ev)
        name = as_str(ev.get("name"))
        if not name:
            errs.append(required(f"{path}[{i}].name"))
        else:
            errs += [invalid(f"{path}[{i}].name", name, m) for m in is_relaxed_env_var_name(name)]
        value_from = ev.get("valueFrom")
        if value_from is None:
            continue
        sources = [k for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
                   if as_map(value_from).get(k) is not None]
        vpath = f"{path}[{i}].valueFrom"
        vf = as_map(value_from)
        if isinstance(vf.get("fieldRef"), dict):
            errs += _object_field_selector_errors(vf["fieldRef"], ENV_FIELD_PATHS, f"{vpath}.fieldRef")
        if isinstance(vf.get("resourceFieldRef"), dict):
            errs += _resource_field_selector_errors(vf["resourceFieldRef"], f"{vpath}.resourceFieldRef", volume=False)
        for key in ("configMapKeyRef", "secretKeyRef"):
            if isinstance(vf.get(key), dict):
                errs += _key_selector_errors(vf[key], f"{vpath}.{key}")
        if not sources:
            errs.append(invalid(vpath, "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                "`configMapKeyRef` or `secretKeyRef`"))
        elif ev.get("value"):
            errs.append(invalid(vpath, "", "may not be specified when `value` is not empty"))
        elif len(sources) > 1:
            errs.append(invalid(vpath, "", "may not have more than one field specified at a time"))
    return errs


# validEnvDownwardAPIFieldPathExpressions / validVolumeDownwardAPIFieldPathExpressions
ENV_FIELD_PATHS = ["metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName",
                   "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"]
VOLUME_FIELD_PATHS = ["metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"]
# what ConvertDownwardAPIFieldLabel accepts for v1 Pods
_CONVERTIBLE_FIELD_PATHS = {"metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
                            "metadata.uid", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName",
                            "spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs", "status.podIP",
                            "status.podIPs"}
RESOURCE_FIELD_PATHS = ["limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
                        "requests.ephemeral-storage", "requests.memory"]
_HUGEPAGES_PREFIXES = ("limits.hugepages-", "requests.hugepages-")
_CPU_DIVISORS = {"1m", "1"}
_BYTE_DIVISORS = {"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
FILE_MODE_ERROR = "must be a number between 0 and 0777 (octal), both inclusive"


def _split_subscript(path: str) -> tuple[str, str, bool]:
    """fieldpath.SplitMaybeSubscriptedPath: ``metadata.labels['k']`` -> (``metadata.labels``, ``k``, True)."""
    if not path.endswith("']"):
        return path, "", False
    head, sep, rest = path.partition("['")
    if not sep:
        return path, "", False
    return head, rest[:-2], True


def _object_field_selector_errors(ref: dict[str, Any], allowed: list[str], path: str) -> list[FieldError]:
    """validateObjectFieldSelector."""
    version, field_path = as_str(ref.get("apiVersion")), as_str(ref.get("fieldPath"))
    if not version:
        return [required(f"{path}.apiVersion")]
    if not field_path:
        return [required(f"{path}.fieldPath")]
    base, subscript, subscripted = _split_subscript(field_path)
    if version != "v1":
        return [invalid(f"{path}.fieldPath", field_path, f"error converting fieldPath: unsupported pod version: {version}")]
    if subscripted and base not in ("metadata.annotations", "metadata.labels"):
        return [invalid(f"{path}.fieldPath", field_path, "error converting fieldPath: field label does not support "
                                                          f"subscript: {field_path}")]
    if not subscripted and field_path not in _CONVERTIBLE_FIELD_PATHS:
        return [invalid(f"{path}.fieldPath", field_path, f"error converting fieldPath: field label not supported: "
                                                          f"{field_path}")]
    if subscripted:
        key = subscript.lower() if base == "metadata.annotations" else subscript
        return [invalid(path, subscript, m) for m in is_qualified_name(key)]
    if field_path not in allowed:
        return [not_supported(f"{path}.fieldPath", field_path, allowed)]
    return []


def _resource_field_selector_errors(ref: dict[str, Any], path: str, *, volume: bool) -> list[FieldError]:
    """validateContainerResourceFieldSelector and validateContainerResourceDivisor."""
    errs: list[FieldError] = []
    resource = as_str(ref.get("resource"))
    if volume and not as_str(ref.get("containerName")):
        errs.append(required(f"{path}.containerName"))
    elif not resource:
        errs.append(required(f"{path}.resource"))
    elif resource not in RESOURCE_FIELD_PATHS and not resource.startswith(_HUGEPAGES_PREFIXES):
        errs.append(not_supported(f"{path}.resource", resource, RESOURCE_FIELD_PATHS))
    divisor = ref.get("divisor")
    if divisor in (None, "", "0", 0):
        return errs
    text = as_str(divisor) if isinstance(divisor, str) else json.dumps(divisor)
    try:
        text = canonical(text)  # Go compares divisor.String(): "1000m" is "1"
    except QuantityError:
        pass  # the schema reports a malformed quantity
    if resource in ("limits.cpu", "requests.cpu") and text not in _CPU_DIVISORS:
        errs.append(invalid(f"{path}.divisor", resource, "only divisor's values 1m and 1 are supported with the "
                                                         "cpu resource"))
    elif resource in ("limits.memory", "requests.memory") and text not in _BYTE_DIVISORS:
        errs.append(invalid(f"{path}.divisor", resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, "
                                                         "1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource"))
    elif resource in ("limits.ephemeral-storage", "requests.ephemeral-storage") and text not in _BYTE_DIVISORS:
        errs.append(invalid(f"{path}.divisor", resource, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, "
                                                         "1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral "
                                                         "storage resource"))
    return errs


def _key_selector_errors(ref: dict[str, Any], path: str) -> list[FieldError]:
    """validateConfigMapKeySelector / validateSecretKeySelector."""
    errs: list[FieldError] = []
    name, key = as_str(ref.get("name")), as_str(ref.get("key"))
    errs += [invalid(f"{path}.name", name, m) for m in is_dns1123_subdomain(name)]
    if not key:
        errs.append(required(f"{path}.key"))
    else:
        errs += [invalid(f"{path}.key", key, m) for m in is_config_map_key(key)]
    return errs


def _env_from_errors(env_from: list[Any], path: str) -> list[FieldError]:
    """ValidateEnvFrom."""
    errs: list[FieldError] = []
    for i, src in enumerate(env_from):
        src = as_map(src)
        p = f"{path}[{i}]"
        prefix = as_str(src.get("prefix"))
        if prefix:
            errs += [invalid(f"{p}.prefix", prefix, m) for m in is_relaxed_env_var_name(prefix)]
        count = 0
        for key in ("configMapRef", "secretRef"):
            ref = src.get(key)
            if ref is None:
                continue
            count += 1
            name = as_str(as_map(ref).get("name"))
            if not name:
                errs.append(required(f"{p}.{key}.name"))
            else:
                errs += [invalid(f"{p}.{key}.name", name, m) for m in is_dns1123_subdomain(name)]
        if count == 0:
            errs.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _mode_errors(value: Any, path: str) -> list[FieldError]:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o777):
        return []
    return [invalid(path, value, FILE_MODE_ERROR)]


def _local_path_errors(target: str, path: str) -> list[FieldError]:
    """ValidateLocalNonReservedPath."""
    errs: list[FieldError] = []
    if target.startswith("/"):
        errs.append(invalid(path, target, "must be a relative path"))
    if ".." in target.split("/"):
        errs.append(invalid(path, target, "must not contain '..'"))
    if target.startswith("..") and not target.startswith("../"):
        errs.append(invalid(path, target, "must not start with '..'"))
    return errs


def _key_to_path_errors(item: dict[str, Any], path: str) -> list[FieldError]:
    """validateKeyToPath."""
    errs: list[FieldError] = []
    if not as_str(item.get("key")):
        errs.append(required(f"{path}.key"))
    target = as_str(item.get("path"))
    if not target:
        errs.append(required(f"{path}.path"))
    errs += _local_path_errors(target, f"{path}.path")
    errs += _mode_errors(item.get("mode"), f"{path}.mode")
    return errs


def _downward_file_errors(item: dict[str, Any], path: str) -> list[FieldError]:
    """validateDownwardAPIVolumeFile (``path`` is the source's: kube does not index the items)."""
    errs: list[FieldError] = []
    target = as_str(item.get("path"))
    if not target:
        errs.append(required(f"{path}.path"))
    errs += _local_path_errors(target, f"{path}.path")
    field_ref, resource_ref = item.get("fieldRef"), item.get("resourceFieldRef")
    if isinstance(field_ref, dict):
        errs += _object_field_selector_errors(field_ref, VOLUME_FIELD_PATHS, f"{path}.fieldRef")
        if resource_ref is not None:
            errs.append(invalid(path, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
    elif isinstance(resource_ref, dict):
        errs += _resource_field_selector_errors(resource_ref, f"{path}.resourceFieldRef", volume=True)
    else:
        errs.append(required(path, "one of fieldRef and resourceFieldRef is required"))
    errs += _mode_errors(item.get("mode"), f"{path}.mode")
    return errs


def _downward_items(vol: dict[str, Any]) -> list[Any]:
    items = list(as_list(as_map(vol.get("downwardAPI")).get("items")))
    for src in as_list(as_map(vol.get("projected")).get("sources")):
        items += as_list(as_map(as_map(src).get("downwardAPI")).get("items"))
    return items


def _volume_source_errors(vol: dict[str, Any], path: str) -> list[FieldError]:
    """The configMap, secret, downwardAPI and projected parts of validateVolumeSource."""
    errs: list[FieldError] = []
    cm = vol.get("configMap")
    if isinstance(cm, dict):
        p = f"{path}.configMap"
        if not as_str(cm.get("name")):
            errs.append(required(f"{p}.name"))
        errs += _mode_errors(cm.get("defaultMode"), f"{p}.defaultMode")
        for i, item in enumerate(as_list(cm.get("items"))):
            errs += _key_to_path_errors(as_map(item), f"{p}.items[{i}]")
    secret = vol.get("secret")
    if isinstance(secret, dict):
        p = f"{path}.secret"
        if not as_str(secret.get("secretName")):
            errs.append(required(f"{p}.secretName"))
        errs += _mode_errors(secret.get("defaultMode"), f"{p}.defaultMode")
        for i, item in enumerate(as_list(secret.get("items"))):
            errs += _key_to_path_errors(as_map(item), f"{p}.items[{i}]")
    downward = vol.get("downwardAPI")
    if isinstance(downward, dict):
        p = f"{path}.downwardAPI"
        errs += _mode_errors(downward.get("defaultMode"), f"{p}.defaultMode")
        for item in as_list(downward.get("items")):
            errs += _downward_file_errors(as_map(item), p)
    projected = vol.get("projected")
    if isinstance(projected, dict):
        errs += _projected_errors(projected, f"{path}.projected")
    return errs


def _projected_errors(projected: dict[str, Any], path: str) -> list[FieldError]:
    """validateProjectedVolumeSource and validateProjectionSources."""
    errs = _mode_errors(projected.get("defaultMode"), f"{path}.defaultMode")
    seen: set[str] = set()
    for i, src in enumerate(as_list(projected.get("sources"))):
        src = as_map(src)
        sp = f"{path}.sources[{i}]"
        count = 0
        for key in ("secret", "configMap"):
            ref = src.get(key)
            if not isinstance(ref, dict):
                continue
            count += 1
            name = as_str(ref.get("name"))
            if not name:
                errs.append(required(f"{sp}.{key}.name"))
            for j, item in enumerate(as_list(ref.get("items"))):
                item = as_map(item)
                errs += _key_to_path_errors(item, f"{sp}.{key}.items[{j}]")
                target = as_str(item.get("path"))
                if target:
                    if target in seen:
                        errs.append(invalid(path, name, "conflicting duplicate paths"))
                    seen.add(target)
        downward = src.get("downwardAPI")
        if isinstance(downward, dict):
            count += 1
            for item in as_list(downward.get("items")):
                item = as_map(item)
                errs += _downward_file_errors(item, f"{sp}.downwardAPI")
                target = as_str(item.get("path"))
                if target:
                    if target in seen:
                        errs.append(invalid(path, target, "conflicting duplicate paths"))
                    seen.add(target)
        if src.get("serviceAccountToken") is not None:
            count += 1
        if src.get("clusterTrustBundle") is not None:
            count += 1
        if count > 1:
            errs.append(forbidden(sp, "may not specify more than 1 volume type per source"))
    return errs


def _volume_mount_errors(mounts: list[Any], volumes: set[str], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    points: set[str] = set()
    for i, mount in enumerate(mounts):
        mount = as_map(mount)
        name, mount_path = as_str(mount.get("name")), as_str(mount.get("mountPath"))
        if not name:
            errs.append(required(f"{path}[{i}].name"))
        if name not in volumes:
            errs.append(not_found(f"{path}[{i}].name", name))
        if not mount_path:
            errs.append(required(f"{path}[{i}].mountPath"))
        if mount_path in points:
            errs.append(invalid(f"{path}[{i}].mountPath", mount_path, "must be unique"))
        points.add(mount_path)
    return errs


def _security_context_errors(sc: dict[str, Any], path: str, *, pod: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("runAsUser", "runAsGroup", "fsGroup") if pod else ("runAsUser", "runAsGroup"):
        value = sc.get(key)
        if value is not None and not (isinstance(value, int) and 0 <= value <= MAX_ID):
            errs.append(invalid(f"{path}.{key}", value, inclusive_range_error(0, MAX_ID)))
    if pod:
        for i, gid in enumerate(as_list(sc.get("supplementalGroups"))):
            if not (isinstance(gid, int) and 0 <= gid <= MAX_ID):
                errs.append(invalid(f"{path}.supplementalGroups[{i}]", gid, inclusive_range_error(0, MAX_ID)))
    return errs


def _handler_errors(handler: dict[str, Any], path: str, *, grace: int | None, kinds: tuple[str, ...]) -> list[FieldError]:
    errs: list[FieldError] = []
    count = 0
    for kind in kinds:
        action = handler.get(kind)
        if action is None:
            continue
        if count:
            errs.append(forbidden(f"{path}.{kind}", "may not specify more than 1 handler type"))
            continue
        count += 1
        action = as_map(action)
        if kind == "exec" and not as_list(action.get("command")):
            errs.append(required(f"{path}.exec.command"))
        elif kind == "httpGet":
            if not as_str(action.get("path")):
                errs.append(required(f"{path}.httpGet.path"))
            errs += port_num_or_name_errors(action.get("port"), f"{path}.httpGet.port")
            scheme = as_str(action.get("scheme"))
            if scheme not in HTTP_SCHEMES:
                errs.append(not_supported(f"{path}.httpGet.scheme", scheme, HTTP_SCHEMES))
        elif kind == "tcpSocket":
            errs += port_num_or_name_errors(action.get("port"), f"{path}.tcpSocket.port")
        elif kind == "grpc":
            errs += port_num_or_name_errors(as_int(action.get("port")) or 0, f"{path}.grpc.port")
        elif kind == "sleep":
            seconds = as_int(action.get("seconds")) or 0
            if grace is not None and (seconds < 0 or seconds > grace):
                errs.append(invalid(f"{path}.sleep", seconds,
                                    f"must be non-negative and less than terminationGracePeriodSeconds ({grace})"))
    if not count:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _probe_errors(probe: Any, path: str, *, grace: int | None, kind: str) -> list[FieldError]:
    if probe is None:
        return []
    probe = as_map(probe)
    errs = _handler_errors(probe, path, grace=grace, kinds=("exec", "httpGet", "tcpSocket", "grpc"))
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs += validate_nonnegative(probe.get(key), f"{path}.{key}")
    tgp = probe.get("terminationGracePeriodSeconds")
    if isinstance(tgp, int) and tgp <= 0:
        errs.append(invalid(f"{path}.terminationGracePeriodSeconds", tgp, "must be greater than 0"))
    if kind in ("livenessProbe", "startupProbe") and probe.get("successThreshold") != 1:
        errs.append(invalid(f"{path}.successThreshold", probe.get("successThreshold"), "must be 1"))
    if kind == "readinessProbe" and tgp is not None:
        errs.append(invalid(f"{path}.terminationGracePeriodSeconds", tgp, "must not be set for readinessProbes"))
    return errs


def _lifecycle_and_probe_errors(c: dict[str, Any], path: str, *, grace: int | None) -> list[FieldError]:
    errs: list[FieldError] = []
    lifecycle = c.get("lifecycle")
    if lifecycle is not None:
        for hook in ("postStart", "preStop"):
            handler = as_map(lifecycle).get(hook)
            if handler is not None:
                errs += _handler_errors(as_map(handler), f"{path}.lifecycle.{hook}", grace=grace,
                                        kinds=("exec", "httpGet", "tcpSocket", "sleep"))
    for kind in _PROBES:
        errs += _probe_errors(c.get(kind), f"{path}.{kind}", grace=grace, kind=kind)
    return errs


def _host_port_conflicts(containers: list[dict[str, Any]], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for ci, c in enumerate(containers):
        for pi, port in enumerate(as_list(c.get("ports"))):
            port = as_map(port)
            host_port = as_int(port.get("hostPort")) or 0
            if not host_port:
                continue
            key = f"{as_str(port.get('protocol'))}/{as_str(port.get('hostIP'))}/{host_port}"
            if key in seen:
                errs.append(duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key))
            seen.add(key)
    return errs


def _validate_containers(spec: dict[str, Any], volumes: set[str], path: str, *, grace: int | None) -> list[FieldError]:
    containers = as_list(spec.get("containers"))
    if not containers:
        return [required(f"{path}.containers")]
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, c in enumerate(containers):
        c = as_map(c)
        cpath = f"{path}.containers[{i}]"
        errs += _validate_container_common(c, volumes, cpath)
        name = as_str(c.get("name"))
        if name in names:
            errs.append(duplicate(f"{cpath}.name", name))
        names.add(name)
        errs += _lifecycle_and_probe_errors(c, cpath, grace=grace)
        if c.get("restartPolicy") is not None:
            errs.append(forbidden(f"{cpath}.restartPolicy", "may not be set for non-init containers"))
    return errs + _host_port_conflicts([as_map(c) for c in containers], f"{path}.containers")


def _validate_init_containers(spec: dict[str, Any], volumes: set[str], path: str, *,
                              grace: int | None) -> list[FieldError]:
    errs: list[FieldError] = []
    names = {as_str(as_map(c).get("name")) for c in as_list(spec.get("containers"))}
    for i, c in enumerate(as_list(spec.get("initContainers"))):
        c = as_map(c)
        cpath = f"{path}.initContainers[{i}]"
        errs += _validate_container_common(c, volumes, cpath)
        restart = c.get("restartPolicy")
        if restart is not None and restart != "Always":
            errs.append(not_supported(f"{cpath}.restartPolicy", restart, ["Always"]))
        name = as_str(c.get("name"))
        if name in names:
            errs.append(duplicate(f"{cpath}.name", name))
        elif name:
            names.add(name)
        # sic: kube-apiserver checks each init container alone, so the index is always 0
        errs += _host_port_conflicts([c], f"{path}.initContainers")
        if restart == "Always":
            errs += _lifecycle_and_probe_errors(c, cpath, grace=grace)
        else:
            for key in ("lifecycle", *_PROBES):
                if c.get(key) is not None:
                    errs.append(forbidden(f"{cpath}.{key}", "may not be set for init containers without restartPolicy=Always"))
    return errs


def _host_network_errors(spec: dict[str, Any], path: str) -> list[FieldError]:
    if spec.get("hostNetwork") is not True:
        return []
    errs: list[FieldError] = []
    for i, c in enumerate(as_list(spec.get("containers"))):
        for j, port in enumerate(as_list(as_map(c).get("ports"))):
            port = as_map(port)
            hp, cp = as_int(port.get("hostPort")) or 0, as_int(port.get("containerPort")) or 0
            if hp != cp:
                errs.append(invalid(f"{path}.containers[{i}].ports[{j}].hostPort", hp,
                                    "must match `containerPort` when `hostNetwork` is true"))
    return errs


def _dns_config_errors(config: Any, dns_policy: str, path: str) -> list[FieldError]:
    if dns_policy == "None":
        if config is None:
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not as_list(as_map(config).get("nameservers")):
            return [required(f"{path}.nameservers", "must provide at least one DNS nameserver when `dnsPolicy` is None")]
    if config is None:
        return []
    config = as_map(config)
    errs: list[FieldError] = []
    servers = [str(s) for s in as_list(config.get("nameservers"))]
    if len(servers) > 3:
        errs.append(invalid(f"{path}.nameservers", servers, "must not have more than 3 nameservers"))
    for i, ns in enumerate(servers):
        errs += [invalid(f"{path}.nameservers[{i}]", ns, m) for m in is_valid_ip(ns)]
    searches = [str(s) for s in as_list(config.get("searches"))]
    if len(searches) > 32:
        errs.append(invalid(f"{path}.searches", searches, "must not have more than 32 search paths"))
    if len(" ".join(searches)) > 2048:
        errs.append(invalid(f"{path}.searches", searches,
                            "must not have more than 2048 characters (including spaces) in the search list"))
    for i, search in enumerate(searches):
        search = search.removesuffix(".")
        errs += [invalid(f"{path}.searches[{i}]", search, m) for m in is_dns1123_subdomain(search)]
    for i, option in enumerate(as_list(config.get("options"))):
        if not as_str(as_map(option).get("name")):
            errs.append(required(f"{path}.options[{i}]", "must not be empty"))
    return errs


def validate_tolerations(tolerations: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, tol in enumerate(tolerations):
        tol = as_map(tol)
        p = f"{path}[{i}]"
        key, op, effect = as_str(tol.get("key")), as_str(tol.get("operator")), as_str(tol.get("effect"))
        value = as_str(tol.get("value"))
        if key:
            errs += validate_label_name(key, f"{p}.key")
        if not key and op != "Exists":
            errs.append(invalid(f"{p}.operator", op,
                                'operator must be Exists when `key` is empty, which means "match all values and all keys"'))
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(invalid(f"{p}.effect", effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("Equal", ""):
            msgs = is_valid_label_value(value)
            if msgs:
                errs.append(invalid(f"{p}.operator", value, ";".join(msgs)))
        elif op == "Exists":
            if value:
                errs.append(invalid(f"{p}.operator", value, "value must be empty when `operator` is 'Exists'"))
        else:
            errs.append(not_supported(f"{p}.operator", op, TOLERATION_OPERATORS))
        if effect and effect not in TAINT_EFFECTS:
            errs.append(not_supported(f"{p}.effect", effect, TAINT_EFFECTS))
    return errs


def _image_whitespace_errors(spec: dict[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("containers", "initContainers"):
        for i, c in enumerate(as_list(spec.get(key))):
            image = as_str(as_map(c).get("image"))
            if image != image.strip():
                errs.append(invalid(f"spec.{key}[{i}].image", image, "must not have leading or trailing whitespace"))
    return errs


def _only_added_tolerations(new: list[Any], old: list[Any]) -> list[FieldError]:
    for old_tol in old:
        old_rest = {k: v for k, v in as_map(old_tol).items() if k != "tolerationSeconds"}
        if not any(semantic_equal(old_rest, {k: v for k, v in as_map(t).items() if k != "tolerationSeconds"})
                   for t in new):
            return [forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds")]
    return validate_tolerations(new, "spec.tolerations")


def _only_deleted_gates(new: list[Any], old: list[Any]) -> list[FieldError]:
    old_names = {as_str(as_map(g).get("name")) for g in old}
    added = {as_str(as_map(g).get("name")): i for i, g in enumerate(new)}
    return [forbidden(f"spec.schedulingGates[{i}].name", f"only deletion is allowed, but found new scheduling gate '{name}'")
            for name, i in added.items() if name not in old_names]


def spec_diff(old: dict[str, Any], new: dict[str, Any]) -> str:
    """A cmp.Diff-shaped summary of which spec fields differ (JSON names, compact values)."""
    lines = ["  core.PodSpec{"]
    for key in sorted(set(old) | set(new)):
        if semantic_equal(old.get(key), new.get(key)):
            continue
        if key in old:
            lines.append(f"- \t{key}: {json.dumps(old[key], separators=(',', ':'))},")
        if key in new:
            lines.append(f"+ \t{key}: {json.dumps(new[key], separators=(',', ':'))},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


def validate_pod_status(status: dict[str, Any]) -> list[FieldError]:
    """The IP checks of ValidatePodStatusUpdate (the node agent writes these)."""
    errs: list[FieldError] = []
    for i, cond in enumerate(as_list(status.get("conditions"))):
        ctype = as_str(as_map(cond).get("type"))
        if ctype not in ("PodScheduled", "Ready", "Initialized"):
            errs += [invalid(f"metadata.conditions[{i}].Type", ctype, m) for m in is_qualified_name(ctype)]
    for field in ("podIPs", "hostIPs"):
        entries = [as_map(e) for e in as_list(status.get(field))]
        ips = [as_str(e.get("ip")) for e in entries]
        if field == "hostIPs" and ips and as_str(status.get("hostIP")) != ips[0]:
            errs.append(invalid("status.hostIPs[0].ip", ips[0], "must be equal to `hostIP`"))
        bad = False
        for i, ip in enumerate(ips):
            msgs = is_valid_ip(ip)
            bad = bad or bool(msgs)
            errs += [invalid(f"status.{field}[{i}]", ip, m) for m in msgs]
        go_type = "core.PodIP" if field == "podIPs" else "core.HostIP"
        shown = [f'{go_type}{{IP:"{ip}"}}' for ip in ips]
        if len(ips) > 1 and not bad:
            if len(ips) > 2 or not is_dual_stack(ips):
                errs.append(invalid(f"status.{field}", GoValue(f"[]{go_type}{{" + ", ".join(shown) + "}"),
                                    "may specify no more than one IP for each IP family"))
            seen: set[str] = set()
            for i, ip in enumerate(ips):
                if ip in seen:
                    errs.append(duplicate(f"status.{field}[{i}]", GoValue(shown[i])))
                seen.add(ip)
    return errs


def validate_binding(binding: Obj) -> list[FieldError]:
    """ValidatePodBinding, for a pods/binding subresource."""
    target = as_map(binding.get("target"))
    errs: list[FieldError] = []
    kind = as_str(target.get("kind"))
    if kind and kind != "Node":
        errs.append(not_supported("target.kind", kind, ["Node", "<empty>"]))
    if not as_str(target.get("name")):
        errs.append(required("target.name"))
    return errs
