"""Decode kubectl's protobuf request bodies (Service, Namespace, ConfigMap...) into JSON dicts.

Why: ``kubectl create service ...`` and ``kubectl create namespace`` send
``application/vnd.kubernetes.protobuf`` with no JSON fallback. The body is
the 4-byte magic ``k8s\\0`` followed by a runtime.Unknown envelope
{typeMeta{apiVersion, kind}, raw, contentEncoding, contentType} whose
``raw`` is the object in Kubernetes' go-to-protobuf (proto2) encoding.

How: message descriptors are built at first use with descriptor_pb2 from
the field numbers of k8s.io/api core/v1 and k8s.io/apimachinery
generated.proto, in a private DescriptorPool; the protobuf runtime does the
wire decoding. Converting to JSON follows Go's encoding/json over the Go
structs: Go marshals every non-pointer field (empty strings and zeros are
on the wire), so a field tagged ``omitempty`` is dropped when zero, a Go
pointer field is kept exactly when it was on the wire, and the few fields
without ``omitempty`` (``ports[].port``) are always kept.
"""

from __future__ import annotations

import base64
import functools
import json
from datetime import UTC, datetime
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message

from apimachinery.errors import bad_request
from apimachinery.timestamps import format_time

PROTOBUF_CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"

# JSON emptiness rule of a field (see module docstring).
OMIT = "omitempty"  # drop zero values / empty structs
KEEP = "always"  # Go field without omitempty
PTR = "pointer"  # Go pointer: present on the wire <=> present in JSON
LIST = "repeated"
MAP = "map"  # map<string, T>: T is the field's type (string or bytes)
INLINE = "inline"  # a Go struct embedded with `json:",inline"`: its fields are the parent's

_Field = tuple[str, int, str, str]  # json/proto name, number, type, rule
_File = tuple[str, str, list[str], dict[str, list[_Field]]]  # file name, package, deps, messages

_RUNTIME = "k8s.io.apimachinery.pkg.runtime"
_INTSTR = "k8s.io.apimachinery.pkg.util.intstr"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1"
_CORE = "k8s.io.api.core.v1"
_APPS = "k8s.io.api.apps.v1"
_BATCH = "k8s.io.api.batch.v1"
_POLICY = "k8s.io.api.policy.v1"
_NETWORKING = "k8s.io.api.networking.v1"
_SCHEDULING = "k8s.io.api.scheduling.v1"

_FILES: list[_File] = [
    (
        "k8s.io/apimachinery/pkg/runtime/generated.proto",
        _RUNTIME,
        [],
        {
            "TypeMeta": [("apiVersion", 1, "string", OMIT), ("kind", 2, "string", OMIT)],
            "Unknown": [
                ("typeMeta", 1, f".{_RUNTIME}.TypeMeta", OMIT),
                ("raw", 2, "bytes", OMIT),
                ("contentEncoding", 3, "string", OMIT),
                ("contentType", 4, "string", OMIT),
            ],
        },
    ),
    (
        "k8s.io/apimachinery/pkg/util/intstr/generated.proto",
        _INTSTR,
        [],
        {"IntOrString": [("type", 1, "int64", OMIT), ("intVal", 2, "int32", OMIT), ("strVal", 3, "string", OMIT)]},
    ),
    (
        "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto",
        _META,
        [],
        {
            "Time": [("seconds", 1, "int64", OMIT), ("nanos", 2, "int32", OMIT)],
            "FieldsV1": [("Raw", 1, "bytes", OMIT)],
            "OwnerReference": [
                ("apiVersion", 5, "string", KEEP),
                ("kind", 1, "string", KEEP),
                ("name", 3, "string", KEEP),
                ("uid", 4, "string", KEEP),
                ("controller", 6, "bool", PTR),
                ("blockOwnerDeletion", 7, "bool", PTR),
            ],
            "ManagedFieldsEntry": [
                ("manager", 1, "string", OMIT),
                ("operation", 2, "string", OMIT),
                ("apiVersion", 3, "string", OMIT),
                ("time", 4, f".{_META}.Time", PTR),
                ("fieldsType", 6, "string", OMIT),
                ("fieldsV1", 7, f".{_META}.FieldsV1", PTR),
                ("subresource", 8, "string", OMIT),
            ],
            "ObjectMeta": [
                ("name", 1, "string", OMIT),
                ("generateName", 2, "string", OMIT),
                ("namespace", 3, "string", OMIT),
                ("selfLink", 4, "string", OMIT),
                ("uid", 5, "string", OMIT),
                ("resourceVersion", 6, "string", OMIT),
                ("generation", 7, "int64", OMIT),
                ("creationTimestamp", 8, f".{_META}.Time", OMIT),
                ("deletionTimestamp", 9, f".{_META}.Time", PTR),
                ("deletionGracePeriodSeconds", 10, "int64", PTR),
                ("labels", 11, "string", MAP),
                ("annotations", 12, "string", MAP),
                ("ownerReferences", 13, f".{_META}.OwnerReference", LIST),
                ("finalizers", 14, "string", LIST),
                ("managedFields", 17, f".{_META}.ManagedFieldsEntry", LIST),
            ],
            "LabelSelector": [
                ("matchLabels", 1, "string", MAP),
                ("matchExpressions", 2, f".{_META}.LabelSelectorRequirement", LIST),
            ],
            "LabelSelectorRequirement": [
                ("key", 1, "string", KEEP),
                ("operator", 2, "string", KEEP),
                ("values", 3, "string", LIST),
            ],
            "Condition": [
                ("type", 1, "string", KEEP),
                ("status", 2, "string", KEEP),
                ("observedGeneration", 3, "int64", OMIT),
                ("lastTransitionTime", 4, f".{_META}.Time", KEEP),
                ("reason", 5, "string", KEEP),
                ("message", 6, "string", KEEP),
            ],
            "DeleteOptions": [
                ("gracePeriodSeconds", 1, "int64", PTR),
                ("preconditions", 2, f".{_META}.Preconditions", PTR),
                ("orphanDependents", 3, "bool", PTR),
                ("propagationPolicy", 4, "string", PTR),
                ("dryRun", 5, "string", LIST),
            ],
            "Preconditions": [("uid", 1, "string", PTR), ("resourceVersion", 2, "string", PTR)],
        },
    ),
    (
        "k8s.io/api/core/v1/generated.proto",
        _CORE,
        [
            "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto",
            "k8s.io/apimachinery/pkg/util/intstr/generated.proto",
        ],
        {
            "Service": [
                ("metadata", 1, f".{_META}.ObjectMeta", OMIT),
                ("spec", 2, f".{_CORE}.ServiceSpec", OMIT),
                ("status", 3, f".{_CORE}.ServiceStatus", OMIT),
            ],
            "ServiceSpec": [
                ("ports", 1, f".{_CORE}.ServicePort", LIST),
                ("selector", 2, "string", MAP),
                ("clusterIP", 3, "string", OMIT),
                ("clusterIPs", 18, "string", LIST),
                ("type", 4, "string", OMIT),
                ("externalIPs", 5, "string", LIST),
                ("sessionAffinity", 7, "string", OMIT),
                ("loadBalancerIP", 8, "string", OMIT),
                ("loadBalancerSourceRanges", 9, "string", LIST),
                ("externalName", 10, "string", OMIT),
                ("externalTrafficPolicy", 11, "string", OMIT),
                ("healthCheckNodePort", 12, "int32", OMIT),
                ("publishNotReadyAddresses", 13, "bool", OMIT),
                ("sessionAffinityConfig", 14, f".{_CORE}.SessionAffinityConfig", PTR),
                ("ipFamilies", 19, "string", LIST),
                ("ipFamilyPolicy", 17, "string", PTR),
                ("allocateLoadBalancerNodePorts", 20, "bool", PTR),
                ("loadBalancerClass", 21, "string", PTR),
                ("internalTrafficPolicy", 22, "string", PTR),
                ("trafficDistribution", 23, "string", PTR),
            ],
            "ServicePort": [
                ("name", 1, "string", OMIT),
                ("protocol", 2, "string", OMIT),
                ("appProtocol", 6, "string", PTR),
                ("port", 3, "int32", KEEP),
                ("targetPort", 4, f".{_INTSTR}.IntOrString", OMIT),
                ("nodePort", 5, "int32", OMIT),
            ],
            "SessionAffinityConfig": [("clientIP", 1, f".{_CORE}.ClientIPConfig", PTR)],
            "ClientIPConfig": [("timeoutSeconds", 1, "int32", PTR)],
            "ServiceStatus": [
                ("loadBalancer", 1, f".{_CORE}.LoadBalancerStatus", OMIT),
                ("conditions", 2, f".{_META}.Condition", LIST),
            ],
            "LoadBalancerStatus": [("ingress", 1, f".{_CORE}.LoadBalancerIngress", LIST)],
            "LoadBalancerIngress": [
                ("ip", 1, "string", OMIT),
                ("hostname", 2, "string", OMIT),
                ("ipMode", 3, "string", PTR),
                ("ports", 4, f".{_CORE}.PortStatus", LIST),
            ],
            "PortStatus": [("port", 1, "int32", KEEP), ("protocol", 2, "string", KEEP), ("error", 3, "string", PTR)],
            "ConfigMap": [
                ("metadata", 1, f".{_META}.ObjectMeta", OMIT),
                ("immutable", 4, "bool", PTR),
                ("data", 2, "string", MAP),
                ("binaryData", 3, "bytes", MAP),
            ],
            "Secret": [
                ("metadata", 1, f".{_META}.ObjectMeta", OMIT),
                ("immutable", 5, "bool", PTR),
                ("data", 2, "bytes", MAP),
                ("stringData", 4, "string", MAP),
                ("type", 3, "string", OMIT),
            ],
            "ObjectReference": [
                ("kind", 1, "string", OMIT),
                ("namespace", 2, "string", OMIT),
                ("name", 3, "string", OMIT),
                ("uid", 4, "string", OMIT),
                ("apiVersion", 5, "string", OMIT),
                ("resourceVersion", 6, "string", OMIT),
                ("fieldPath", 7, "string", OMIT),
            ],
            "LocalObjectReference": [("name", 1, "string", OMIT)],
            "ServiceAccount": [
                ("metadata", 1, f".{_META}.ObjectMeta", OMIT),
                ("secrets", 2, f".{_CORE}.ObjectReference", LIST),
                ("imagePullSecrets", 3, f".{_CORE}.LocalObjectReference", LIST),
                ("automountServiceAccountToken", 4, "bool", PTR),
            ],
            "Namespace": [
                ("metadata", 1, f".{_META}.ObjectMeta", OMIT),
                ("spec", 2, f".{_CORE}.NamespaceSpec", OMIT),
                ("status", 3, f".{_CORE}.NamespaceStatus", OMIT),
            ],
            "NamespaceSpec": [("finalizers", 1, "string", LIST)],
            "NamespaceStatus": [
                ("phase", 1, "string", OMIT),
                ("conditions", 2, f".{_CORE}.NamespaceCondition", LIST),
            ],
            "NamespaceCondition": [
                ("type", 1, "string", KEEP),
                ("status", 2, "string", KEEP),
                ("lastTransitionTime", 4, f".{_META}.Time", OMIT),
                ("reason", 5, "string", OMIT),
                ("message", 6, "string", OMIT),
            ],
            # The pod template of apps/v1 workloads, as far as kubectl's generators fill it
            # (create deployment: containers with name, image, command, ports); other fields
            # are skipped by the wire decoder.
            "PodTemplateSpec": [
                ("metadata", 1, f".{_META}.ObjectMeta", KEEP),
                ("spec", 2, f".{_CORE}.PodSpec", KEEP),
            ],
            "PodSpec": [
                ("containers", 2, f".{_CORE}.Container", LIST),
                ("restartPolicy", 3, "string", OMIT),
                ("terminationGracePeriodSeconds", 4, "int64", PTR),
                ("activeDeadlineSeconds", 5, "int64", PTR),
                ("dnsPolicy", 6, "string", OMIT),
                ("nodeSelector", 7, "string", MAP),
                ("serviceAccountName", 8, "string", OMIT),
                ("serviceAccount", 9, "string", OMIT),
                ("nodeName", 10, "string", OMIT),
                ("hostNetwork", 11, "bool", OMIT),
                ("hostname", 16, "string", OMIT),
                ("subdomain", 17, "string", OMIT),
                ("schedulerName", 19, "string", OMIT),
                ("initContainers", 20, f".{_CORE}.Container", LIST),
                ("priorityClassName", 24, "string", OMIT),
                ("priority", 25, "int32", PTR),
                ("enableServiceLinks", 30, "bool", PTR),
            ],
            "Container": [
                ("name", 1, "string", KEEP),
                ("image", 2, "string", OMIT),
                ("command", 3, "string", LIST),
                ("args", 4, "string", LIST),
                ("workingDir", 5, "string", OMIT),
                ("ports", 6, f".{_CORE}.ContainerPort", LIST),
                ("env", 7, f".{_CORE}.EnvVar", LIST),
                ("resources", 8, f".{_CORE}.ResourceRequirements", KEEP),
                ("terminationMessagePath", 13, "string", OMIT),
                ("imagePullPolicy", 14, "string", OMIT),
                ("stdin", 16, "bool", OMIT),
                ("stdinOnce", 17, "bool", OMIT),
                ("tty", 18, "bool", OMIT),
                ("terminationMessagePolicy", 20, "string", OMIT),
            ],
            "ContainerPort": [
                ("name", 1, "string", OMIT),
                ("hostPort", 2, "int32", OMIT),
                ("containerPort", 3, "int32", KEEP),
                ("protocol", 4, "string", OMIT),
                ("hostIP", 5, "string", OMIT),
            ],
            "EnvVar": [("name", 1, "string", KEEP), ("value", 2, "string", OMIT)],
            "ResourceRequirements": [],
            "TypedLocalObjectReference": [
                ("apiGroup", 1, "string", PTR),
                ("kind", 2, "string", KEEP),
                ("name", 3, "string", KEEP),
            ],
        },
    ),
    # apps/v1 Deployment and ReplicaSet (kubectl create deployment sends a Deployment as protobuf).
    (
        "k8s.io/api/apps/v1/generated.proto",
        _APPS,
        [
            "k8s.io/api/core/v1/generated.proto",
            "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto",
            "k8s.io/apimachinery/pkg/util/intstr/generated.proto",
        ],
        {
            "Deployment": [
                ("metadata", 1, f".{_META}.ObjectMeta", OMIT),
                ("spec", 2, f".{_APPS}.DeploymentSpec", KEEP),
                ("status", 3, f".{_APPS}.DeploymentStatus", KEEP),
            ],
            "DeploymentSpec": [
                ("replicas", 1, "int32", PTR),
                ("selector", 2, f".{_META}.LabelSelector", PTR),
                ("template", 3, f".{_CORE}.PodTemplateSpec", KEEP),
                ("strategy", 4, f".{_APPS}.DeploymentStrategy", KEEP),
                ("minReadySeconds", 5, "int32", OMIT),
                ("revisionHistoryLimit", 6, "int32", PTR),
                ("paused", 7, "bool", OMIT),
                ("progressDeadlineSeconds", 9, "int32", PTR),
            ],
            "DeploymentStrategy": [
                ("type", 1, "string", OMIT),
                ("rollingUpdate", 2, f".{_APPS}.RollingUpdateDeployment", PTR),
            ],
            "RollingUpdateDeployment": [
                ("maxUnavailable", 1, f".{_INTSTR}.IntOrString", PTR),
                ("maxSurge", 2, f".{_INTSTR}.IntOrString", PTR),
            ],
            "DeploymentStatus": [
                ("observedGeneration", 1, "int64", OMIT),
                ("replicas", 2, "int32", OMIT),
                ("updatedReplicas", 3, "int32", OMIT),
                ("readyReplicas", 7, "int32", OMIT),
                ("availableReplicas", 4, "int32", OMIT),
                ("unavailableReplicas", 5, "int32", OMIT),
                ("collisionCount", 8, "int32", PTR),
            ],
            "ReplicaSet": [
                ("metadata", 1, f".{_META}.ObjectMeta", OMIT),
                ("spec", 2, f".{_APPS}.ReplicaSetSpec", KEEP),
                ("status", 3, f".{_APPS}.ReplicaSetStatus", KEEP),
            ],
            "ReplicaSetSpec": [
                ("replicas", 1, "int32", PTR),
                ("minReadySeconds", 4, "int32", OMIT),
                ("selector", 2, f".{_META}.LabelSelector", PTR),
                ("template", 3, f".{_CORE}.PodTemplateSpec", KEEP),
            ],
            "ReplicaSetStatus": [
                ("replicas", 1, "int32", KEEP),
                ("fullyLabeledReplicas", 2, "int32", OMIT),
                ("readyReplicas", 4, "int32", OMIT),
                ("availableReplicas", 5, "int32", OMIT),
                ("observedGeneration", 3, "int64", OMIT),
            ],
        },
    ),
    # batch/v1 Job and CronJob (kubectl create job|cronjob, and create job --from=cronjob/x, send protobuf).
    (
        "k8s.io/api/batch/v1/generated.proto",
        _BATCH,
        [
            "k8s.io/api/core/v1/generated.proto",
            "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto",
        ],
        {
            "Job": [
                ("metadata", 1, f".{_META}.ObjectMeta", OMIT),
                ("spec", 2, f".{_BATCH}.JobSpec", KEEP),
                ("status", 3, f".{_BATCH}.JobStatus", KEEP),
            ],
            "JobSpec": [
                ("parallelism", 1, "int32", PTR),
                ("completions", 2, "int32", PTR),
                ("activeDeadlineSeconds", 3, "int64", PTR),
                ("backoffLimit", 7, "int32", PTR),
                ("backoffLimitPerIndex", 12, "int32", PTR),
                ("maxFailedIndexes", 13, "int32", PTR),
                ("selector", 4, f".{_META}.LabelSelector", PTR),
                ("manualSelector", 5, "bool", PTR),
                ("template", 6, f".{_CORE}.PodTemplateSpec", KEEP),
                ("ttlSecondsAfterFinished", 8, "int32", PTR),
                ("completionMode", 9, "string", PTR),
                ("suspend", 10, "bool", PTR),
                ("podReplacementPolicy", 14, "string", PTR),
                ("managedBy", 15, "string", PTR),
            ],
            "JobStatus": [
                ("startTime", 2, f".{_META}.Time", PTR),
                ("completionTime", 3, f".{_META}.Time", PTR),
                ("active", 4, "int32", OMIT),
                ("succeeded", 5, "int32", OMIT),
                ("failed", 6, "int32", OMIT),
                ("completedIndexes", 7, "string", OMIT),
                ("ready", 9, "int32", PTR),
            ],
            "JobTemplateSpec": [
                ("metadata", 1, f".{_META}.ObjectMeta", KEEP),
                ("spec", 2, f".{_BATCH}.JobSpec", KEEP),
            ],
            "CronJob": [
                ("metadata", 1, f".{_META}.ObjectMeta", OMIT),
                ("spec", 2, f".{_BATCH}.CronJobSpec", KEEP),
                ("status", 3, f".{_BATCH}.CronJobStatus", KEEP),
            ],
            "CronJobSpec": [
                ("schedule", 1, "string", KEEP),
                ("timeZone", 8, "string", PTR),
                ("startingDeadlineSeconds", 2, "int64", PTR),
                ("concurrencyPolicy", 3, "string", OMIT),
                ("suspend", 4, "bool", PTR),
                ("jobTemplate", 5, f".{_BATCH}.JobTemplateSpec", KEEP),
                ("successfulJobsHistoryLimit", 6, "int32", PTR),
                ("failedJobsHistoryLimit", 7, "int32", PTR),
            ],
            "CronJobStatus": [
                ("active", 1, f".{_CORE}.ObjectReference", LIST),
                ("lastScheduleTime", 4, f".{_META}.Time", PTR),
                ("lastSuccessfulTime", 5, f".{_META}.Time", PTR),
            ],
        },
    ),
    # policy/v1 PodDisruptionBudget (kubectl create pdb) and Eviction (kubectl drain); status.disruptedPods
    # (a map of Times) is not read from protobuf: clients never send it.
    (
        "k8s.io/api/policy/v1/generated.proto",
        _POLICY,
        [
            "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto",
            "k8s.io/apimachinery/pkg/util/intstr/generated.proto",
        ],
        {
            "PodDisruptionBudget": [
                ("metadata", 1, f".{_META}.ObjectMeta", OMIT),
                ("spec", 2, f".{_POLICY}.PodDisruptionBudgetSpec", KEEP),
                ("status", 3, f".{_POLICY}.PodDisruptionBudgetStatus", KEEP),
            ],
            "PodDisruptionBudgetSpec": [
                ("minAvailable", 1, f".{_INTSTR}.IntOrString", PTR),
                ("selector", 2, f".{_META}.LabelSelector", PTR),
                ("maxUnavailable", 3, f".{_INTSTR}.IntOrString", PTR),
                ("unhealthyPodEvictionPolicy", 4, "string", PTR),
            ],
            "PodDisruptionBudgetStatus": [
                ("observedGeneration", 1, "int64", OMIT),
                ("disruptionsAllowed", 3, "int32", KEEP),
                ("currentHealthy", 4, "int32", KEEP),
                ("desiredHealthy", 5, "int32", KEEP),
                ("expectedPods", 6, "int32", KEEP),
                ("conditions", 7, f".{_META}.Condition", LIST),
            ],
            "Eviction": [
                ("metadata", 1, f".{_META}.ObjectMeta", OMIT),
                ("deleteOptions", 2, f".{_META}.DeleteOptions", PTR),
            ],
        },
    ),
    (
        "k8s.io/api/scheduling/v1/generated.proto",
        _SCHEDULING,
        ["k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto"],
        {
            "PriorityClass": [
                ("metadata", 1, f".{_META}.ObjectMeta", OMIT),
                ("value", 2, "int32", KEEP),
                ("globalDefault", 3, "bool", OMIT),
                ("description", 4, "string", OMIT),
                ("preemptionPolicy", 5, "string", PTR),
            ],
        },
    ),
    # networking.k8s.io/v1 Ingress (kubectl create ingress)
    (
        "k8s.io/api/networking/v1/generated.proto",
        _NETWORKING,
        ["k8s.io/api/core/v1/generated.proto", "k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto"],
        {
            "Ingress": [
                ("metadata", 1, f".{_META}.ObjectMeta", OMIT),
                ("spec", 2, f".{_NETWORKING}.IngressSpec", KEEP),
                ("status", 3, f".{_NETWORKING}.IngressStatus", OMIT),
            ],
            "IngressSpec": [
                ("ingressClassName", 4, "string", PTR),
                ("defaultBackend", 1, f".{_NETWORKING}.IngressBackend", PTR),
                ("tls", 2, f".{_NETWORKING}.IngressTLS", LIST),
                ("rules", 3, f".{_NETWORKING}.IngressRule", LIST),
            ],
            "IngressBackend": [
                ("service", 4, f".{_NETWORKING}.IngressServiceBackend", PTR),
                ("resource", 3, f".{_CORE}.TypedLocalObjectReference", PTR),
            ],
            "IngressServiceBackend": [
                ("name", 1, "string", KEEP),
                ("port", 2, f".{_NETWORKING}.ServiceBackendPort", OMIT),
            ],
            "ServiceBackendPort": [("name", 1, "string", OMIT), ("number", 2, "int32", OMIT)],
            "IngressTLS": [("hosts", 1, "string", LIST), ("secretName", 2, "string", OMIT)],
            "IngressRule": [
                ("host", 1, "string", OMIT),
                ("ingressRuleValue", 2, f".{_NETWORKING}.IngressRuleValue", INLINE),
            ],
            "IngressRuleValue": [("http", 1, f".{_NETWORKING}.HTTPIngressRuleValue", PTR)],
            "HTTPIngressRuleValue": [("paths", 1, f".{_NETWORKING}.HTTPIngressPath", LIST)],
            "HTTPIngressPath": [
                ("path", 1, "string", OMIT),
                ("pathType", 3, "string", PTR),
                ("backend", 2, f".{_NETWORKING}.IngressBackend", KEEP),
            ],
            "IngressStatus": [],
        },
    ),
]


# (apiVersion, kind) of the objects we accept as protobuf -> message full name
_DECODABLE: dict[tuple[str, str], str] = {
    ("v1", "Service"): f"{_CORE}.Service",
    ("v1", "Namespace"): f"{_CORE}.Namespace",
    ("v1", "ConfigMap"): f"{_CORE}.ConfigMap",
    ("v1", "Secret"): f"{_CORE}.Secret",
    ("v1", "ServiceAccount"): f"{_CORE}.ServiceAccount",
    ("scheduling.k8s.io/v1", "PriorityClass"): f"{_SCHEDULING}.PriorityClass",
    ("apps/v1", "Deployment"): f"{_APPS}.Deployment",
    ("apps/v1", "ReplicaSet"): f"{_APPS}.ReplicaSet",
    ("batch/v1", "Job"): f"{_BATCH}.Job",
    ("batch/v1", "CronJob"): f"{_BATCH}.CronJob",
    ("policy/v1", "PodDisruptionBudget"): f"{_POLICY}.PodDisruptionBudget",
    ("policy/v1", "Eviction"): f"{_POLICY}.Eviction",
    ("policy/v1beta1", "Eviction"): f"{_POLICY}.Eviction",  # the same message in policy/v1beta1
    ("networking.k8s.io/v1", "Ingress"): f"{_NETWORKING}.Ingress",
}

_SCALARS = {
    "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
    "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES,
    "bool": descriptor_pb2.FieldDescriptorProto.TYPE_BOOL,
    "int32": descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
    "int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
}


def _file_proto(name: str, package: str, *, deps: list[str], messages: dict[str, list[_Field]]) -> Any:
    fdp = descriptor_pb2.FileDescriptorProto(name=name, package=package, syntax="proto2")
    fdp.dependency.extend(deps)
    fd = descriptor_pb2.FieldDescriptorProto
    for msg_name, fields in messages.items():
        msg = fdp.message_type.add(name=msg_name)
        for field_name, number, typ, rule in fields:
            f = msg.field.add(name=field_name, number=number, json_name=field_name)
            if rule == MAP:
                entry_name = field_name[0].upper() + field_name[1:] + "Entry"
                entry = msg.nested_type.add(name=entry_name)
                entry.options.map_entry = True
                entry.field.add(name="key", number=1, type=fd.TYPE_STRING, label=fd.LABEL_OPTIONAL)
                entry.field.add(name="value", number=2, type=_SCALARS[typ], label=fd.LABEL_OPTIONAL)
                f.type = fd.TYPE_MESSAGE
                f.type_name = f".{package}.{msg_name}.{entry_name}"
                f.label = fd.LABEL_REPEATED
                continue
            f.label = fd.LABEL_REPEATED if rule == LIST else fd.LABEL_OPTIONAL
            if typ in _SCALARS:
                f.type = _SCALARS[typ]
            else:
                f.type = fd.TYPE_MESSAGE
                f.type_name = typ
    return fdp


@functools.cache
def _pool() -> descriptor_pool.DescriptorPool:
    """The private pool of k8s message descriptors, built on first use."""
    pool = descriptor_pool.DescriptorPool()
    for name, package, deps, messages in _FILES:
        pool.Add(_file_proto(name, package, deps=deps, messages=messages))
    return pool


@functools.cache
def _rules() -> dict[str, dict[str, str]]:
    return {f"{pkg}.{msg}": {f[0]: f[3] for f in fields} for _, pkg, _, msgs in _FILES for msg, fields in msgs.items()}


def message_class(full_name: str) -> type[Message]:
    """The generated class of a k8s message, e.g. ``k8s.io.api.core.v1.Service`` (tests build bodies with it)."""
    cls: type[Message] = message_factory.GetMessageClass(_pool().FindMessageTypeByName(full_name))
    return cls


def _time_json(msg: Any) -> str | None:
    """metav1.Time: whole seconds in RFC 3339 UTC; an empty message is the zero time (null)."""
    if not msg.seconds and not msg.nanos:
        return None
    return format_time(datetime.fromtimestamp(msg.seconds, UTC))


def _int_or_string_json(msg: Any) -> int | str | None:
    if msg.type == 1:
        return str(msg.strVal) if msg.strVal else None
    return int(msg.intVal) if msg.intVal else None


def _to_json(msg: Any) -> Any:
    """Go's encoding/json view of a decoded message (see module docstring)."""
    full_name = msg.DESCRIPTOR.full_name
    if full_name == f"{_META}.Time":
        return _time_json(msg)
    if full_name == f"{_INTSTR}.IntOrString":
        return _int_or_string_json(msg)
    if full_name == f"{_META}.FieldsV1":
        try:
            return json.loads(bytes(msg.Raw) or b"{}")
        except ValueError as e:
            raise bad_request(f"managedFields: invalid fieldsV1: {e}") from e
    rules = _rules()[full_name]
    out: dict[str, Any] = {}
    for field in msg.DESCRIPTOR.fields:
        name = field.name
        rule = rules[name]
        value = getattr(msg, name)
        if rule == MAP:
            if len(value):
                # map<string, bytes> is Go's map[string][]byte: base64 in JSON
                out[name] = {str(k): base64.b64encode(v).decode() if isinstance(v, bytes) else str(v)
                             for k, v in value.items()}
            continue
        if rule == LIST:
            if len(value):
                out[name] = [_to_json(v) if field.message_type else _scalar(v) for v in value]
            continue
        present = msg.HasField(name)
        if rule == INLINE:
            out.update(_to_json(value) if present else {})
            continue
        if field.message_type is not None:
            if rule == PTR and not present:
                continue
            converted = _to_json(value) if present else None
            if rule == PTR and converted is None and field.message_type.full_name == f"{_INTSTR}.IntOrString":
                converted = str(value.strVal) if value.type == 1 else int(value.intVal)  # a set 0 or ""
            if rule == PTR:
                if converted is not None:
                    out[name] = converted
            elif rule == KEEP or converted not in (None, {}):
                out[name] = converted
            continue
        if rule == PTR:
            if present:
                out[name] = _scalar(value)
        elif rule == KEEP or value:
            out[name] = _scalar(value)
    return out


def _scalar(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _parse(full_name: str, data: bytes, *, what: str) -> Any:
    msg = message_class(full_name)()
    try:
        msg.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise bad_request(f"unable to decode {what} from protobuf: {e}") from e
    return msg


def decode_protobuf(body: bytes) -> dict[str, Any]:
    """The JSON dict equivalent of a ``k8s\\0`` + runtime.Unknown protobuf body.

    Raises errors.bad_request (400) for a body without the magic, an
    envelope or object that does not parse, a missing kind, an encoded
    (compressed) payload, or a kind we do not decode from protobuf (only
    v1 Service and v1 Namespace are; clients send everything else as JSON).
    """
    if not body.startswith(MAGIC):
        raise bad_request(
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
        )
    unknown = _parse(f"{_RUNTIME}.Unknown", body[len(MAGIC) :], what="runtime.Unknown envelope")
    api_version, kind = str(unknown.typeMeta.apiVersion), str(unknown.typeMeta.kind)
    if not kind:
        raise bad_request("Object 'Kind' is missing in protobuf envelope")
    if unknown.contentEncoding:
        raise bad_request(f'unsupported protobuf content encoding "{unknown.contentEncoding}"')
    full_name = _DECODABLE.get((api_version, kind))
    if full_name is None:
        raise bad_request(
            f"{kind} ({api_version or 'no apiVersion'}) cannot be sent as {PROTOBUF_CONTENT_TYPE} "
            "to this server; send application/json"
        )
    obj = _to_json(_parse(full_name, bytes(unknown.raw), what=kind))
    result: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": obj.pop("metadata", {})}
    result.update(obj)
    return result
