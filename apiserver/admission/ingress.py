"""Ingress and IngressClass admission: ValidateIngressCreate/Update (ValidateIngressSpec: rules, paths and
their pathType, backends, TLS hosts), ValidateIngressStatusUpdate, SetDefaults_IngressClass and
ValidateIngressClass(Update), with kube-apiserver's messages.

The kinds are declared in apimachinery.kinds.ingress and apimachinery.kinds.ingressclass.
No ingress controller runs: nothing here routes traffic or fills an address.
"""

from __future__ import annotations

import re
from typing import Any

from apimachinery.errors import FieldError, forbidden, invalid, not_supported, required, too_long
from apimachinery.resources import BY_KEY
from apimachinery.validation import (
    DNS1123_SUBDOMAIN_MAX_LENGTH,
    GoValue,
    is_dns1123_subdomain,
    is_valid_ip,
    is_valid_path_segment_name,
    is_valid_port_name,
    is_valid_port_num,
    max_len_error,
    name_is_dns1035_label,
    name_is_dns_label,
    name_is_dns_subdomain,
    parse_ip_sloppy,
    regex_error,
    validate_immutable,
)
from apiserver.admission.base import Admission, Obj, StatusResetAdmission, as_int, as_list, as_map, as_str

INGRESS_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
PATH_TYPES = ["Exact", "ImplementationSpecific", "Prefix"]
_INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
_INVALID_PATH_SUFFIXES = ("/..", "/.")
_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_WILDCARD_FMT = "\\*\\." + _LABEL + "(\\." + _LABEL + ")*"
_WILDCARD_RE = re.compile(_WILDCARD_FMT)
_WILDCARD_MSG = ("a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must "
                 "consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character")
_HTTP_PATH_FMT = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+"
_HTTP_PATH_RE = re.compile(_HTTP_PATH_FMT)
MAX_CONTROLLER_LENGTH = 250
PARAMETER_SCOPES = ["Cluster", "Namespace"]


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    """validation.IsWildcardDNS1123Subdomain."""
    errs: list[str] = []
    if len(value.encode()) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _WILDCARD_RE.fullmatch(value):
        errs.append(regex_error(_WILDCARD_MSG, _WILDCARD_FMT, "*.example.com"))
    return errs


def _host_errors(host: str) -> list[str]:
    return is_wildcard_dns1123_subdomain(host) if "*" in host else is_dns1123_subdomain(host)


def typed_local_object_reference(ref: dict[str, Any], path: str) -> list[FieldError]:
    """validateIngressTypedLocalObjectReference."""
    errs: list[FieldError] = []
    group = ref.get("apiGroup")
    if isinstance(group, str):
        errs += [invalid(f"{path}.apiGroup", group, m) for m in is_dns1123_subdomain(group)]
    for key in ("kind", "name"):
        value = as_str(ref.get(key))
        if not value:
            errs.append(required(f"{path}.{key}", f"{key} is required"))
        else:
            errs += [invalid(f"{path}.{key}", value, m) for m in is_valid_path_segment_name(value)]
    return errs


def _backend(backend: dict[str, Any], path: str) -> list[FieldError]:
    """validateIngressBackend: a service (name, and a port name or number) or a resource, not both."""
    resource, service = backend.get("resource"), backend.get("service")
    if resource is not None and service is not None:
        return [invalid(path, "", "cannot set both resource and service backends")]
    if resource is not None:
        return typed_local_object_reference(as_map(resource), f"{path}.resource")
    if service is None:
        return [invalid(path, "", "resource or service backend is required")]
    svc = as_map(service)
    errs: list[FieldError] = []
    name = as_str(svc.get("name"))
    if not name:
        errs.append(required(f"{path}.service.name"))
    else:
        errs += [invalid(f"{path}.service.name", name, m) for m in name_is_dns1035_label(name)]
    port = as_map(svc.get("port"))
    port_name, number = as_str(port.get("name")), as_int(port.get("number")) or 0
    if port_name and number:
        errs.append(invalid(path, "", "cannot set both port name & port number"))
    elif port_name:
        errs += [invalid(f"{path}.service.port.name", port_name, m) for m in is_valid_port_name(port_name)]
    elif number:
        errs += [invalid(f"{path}.service.port.number", number, m) for m in is_valid_port_num(number)]
    else:
        errs.append(required(path, "port name or number is required"))
    return errs


def _http_path(item: dict[str, Any], path: str) -> list[FieldError]:
    """validateHTTPIngressPath."""
    path_type = item.get("pathType")
    if path_type is None:
        return [required(f"{path}.pathType", "pathType must be specified")]
    errs: list[FieldError] = []
    text = as_str(item.get("path"))
    if path_type in ("Exact", "Prefix"):
        if not text.startswith("/"):
            errs.append(invalid(f"{path}.path", text, "must be an absolute path"))
        if text:
            errs += [invalid(f"{path}.path", text, f"must not contain '{seq}'")
                     for seq in _INVALID_PATH_SEQUENCES if seq in text]
            errs += [invalid(f"{path}.path", text, f"cannot end with '{suffix}'")
                     for suffix in _INVALID_PATH_SUFFIXES if text.endswith(suffix)]
    elif path_type == "ImplementationSpecific":
        if text and not text.startswith("/"):
            errs.append(invalid(f"{path}.path", text, "must be an absolute path"))
    else:
        errs.append(not_supported(f"{path}.pathType", path_type, PATH_TYPES))
    return errs + _backend(as_map(item.get("backend")), f"{path}.backend")


def _rules(rules: list[Any], path: str) -> list[FieldError]:
    """validateIngressRules."""
    errs: list[FieldError] = []
    for i, rule in enumerate(rules):
        rule = as_map(rule)
        host = as_str(rule.get("host"))
        if host:
            if parse_ip_sloppy(host) is not None:
                errs.append(invalid(f"{path}[{i}].host", host, "must be a DNS name, not an IP address"))
            errs += [invalid(f"{path}[{i}].host", host, m) for m in _host_errors(host)]
        http = rule.get("http")
        if http is not None:
            paths = as_list(as_map(http).get("paths"))
            if not paths:
                errs.append(required(f"{path}[{i}].http.paths"))
            for j, item in enumerate(paths):
                errs += _http_path(as_map(item), f"{path}[{i}].http.paths[{j}]")
    return errs


def validate_ingress_spec(spec: dict[str, Any], path: str) -> list[FieldError]:
    """ValidateIngressSpec."""
    errs: list[FieldError] = []
    rules = spec.get("rules")
    if not as_list(rules) and spec.get("defaultBackend") is None:
        value = GoValue("[]networking.IngressRule(nil)" if rules is None else "[]networking.IngressRule{}")
        errs.append(invalid(path, value, "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        errs += _backend(as_map(spec["defaultBackend"]), f"{path}.defaultBackend")
    errs += _rules(as_list(rules), f"{path}.rules")
    for i, tls in enumerate(as_list(spec.get("tls"))):
        tls = as_map(tls)
        for j, host in enumerate(as_list(tls.get("hosts"))):
            text = as_str(host)
            errs += [invalid(f"{path}.tls[{i}].hosts[{j}]", text, m) for m in _host_errors(text)]
        secret = as_str(tls.get("secretName"))
        if secret:
            errs += [invalid(f"{path}.tls[{i}].secretName", secret, m) for m in name_is_dns_subdomain(secret)]
    class_name = spec.get("ingressClassName")
    if isinstance(class_name, str):
        errs += [invalid(f"{path}.ingressClassName", class_name, m) for m in name_is_dns_subdomain(class_name)]
    return errs


class IngressAdmission(StatusResetAdmission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["ingresses.networking.k8s.io"])

    def initial_status(self, obj: Obj) -> dict[str, Any]:
        """PrepareForCreate: an empty status; its loadBalancer is a Go struct, printed ``{}``."""
        return {"loadBalancer": {}}

    def validate_create(self, obj: Obj) -> list[FieldError]:
        """ValidateIngressCreate: the spec, and the class annotation agreeing with ingressClassName."""
        spec = as_map(obj.get("spec"))
        errs = validate_ingress_spec(spec, "spec")
        annotations = as_map(as_map(obj.get("metadata")).get("annotations"))
        class_name = spec.get("ingressClassName")
        if INGRESS_CLASS_ANNOTATION in annotations and class_name is not None and \
                annotations[INGRESS_CLASS_ANNOTATION] != class_name:
            errs.append(invalid(f"annotations.{INGRESS_CLASS_ANNOTATION}", annotations[INGRESS_CLASS_ANNOTATION],
                                "must match `ingressClassName` when both are specified"))
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        """ValidateIngressUpdate: the spec rules again (the annotation check is create-only)."""
        return validate_ingress_spec(as_map(obj.get("spec")), "spec")

    def validate_status_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        """ValidateIngressLoadBalancerStatus: each ingress point an IP or a DNS name."""
        errs: list[FieldError] = []
        points = as_list(as_map(as_map(obj.get("status")).get("loadBalancer")).get("ingress"))
        for i, point in enumerate(points):
            point = as_map(point)
            p = f"status.loadBalancer.ingress[{i}]"
            ip, hostname = as_str(point.get("ip")), as_str(point.get("hostname"))
            if ip:
                errs += [invalid(f"{p}.ip", ip, m) for m in is_valid_ip(ip)]
            if hostname:
                errs += [invalid(f"{p}.hostname", hostname, m) for m in is_dns1123_subdomain(hostname)]
                if parse_ip_sloppy(hostname) is not None:
                    errs.append(invalid(f"{p}.hostname", hostname, "must be a DNS name, not an IP address"))
        return errs


def _domain_prefixed_path(value: str, path: str) -> list[FieldError]:
    """validation.IsDomainPrefixedPath."""
    if not value:
        return [required(path)]
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        return [invalid(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [invalid(path, host, m) for m in is_dns1123_subdomain(host)]
    if not _HTTP_PATH_RE.fullmatch(rest):
        errs.append(invalid(path, rest, regex_error("Invalid path", _HTTP_PATH_FMT)))
    return errs


class IngressClassAdmission(Admission):
    def __init__(self) -> None:
        super().__init__(BY_KEY["ingressclasses.networking.k8s.io"])

    def default(self, obj: Obj) -> None:
        """SetDefaults_IngressClass: parameters without a scope are Cluster-scoped."""
        params = as_map(obj.get("spec")).get("parameters")
        if isinstance(params, dict) and params.get("scope") is None:
            params["scope"] = "Cluster"

    def validate_create(self, obj: Obj) -> list[FieldError]:
        """ValidateIngressClassSpec: a domain-prefixed controller, a well-formed parameters reference."""
        spec = as_map(obj.get("spec"))
        controller = as_str(spec.get("controller"))
        errs: list[FieldError] = []
        if len(controller) > MAX_CONTROLLER_LENGTH:
            errs.append(too_long("spec.controller", MAX_CONTROLLER_LENGTH))
        errs += _domain_prefixed_path(controller, "spec.controller")
        params = spec.get("parameters")
        if isinstance(params, dict):
            p = "spec.parameters"
            errs += typed_local_object_reference(params, p)
            scope = params.get("scope")
            if scope is None:
                errs.append(required(f"{p}.scope"))
            elif scope not in PARAMETER_SCOPES:
                errs.append(not_supported(f"{p}.scope", scope, PARAMETER_SCOPES))
            elif scope == "Namespace":
                namespace = params.get("namespace")
                if namespace is None:
                    errs.append(required(f"{p}.namespace", "`parameters.scope` is set to 'Namespace'"))
                else:
                    errs += [invalid(f"{p}.namespace", namespace, m) for m in name_is_dns_label(as_str(namespace))]
            elif params.get("namespace") is not None:
                errs.append(forbidden(f"{p}.namespace", "`parameters.scope` is set to 'Cluster'"))
        return errs

    def validate_update(self, obj: Obj, old: Obj) -> list[FieldError]:
        """ValidateIngressClassUpdate: the controller is fixed."""
        errs = self.validate_create(obj)
        return errs + validate_immutable(as_map(obj.get("spec")).get("controller"),
                                         as_map(old.get("spec")).get("controller"), "spec.controller")
