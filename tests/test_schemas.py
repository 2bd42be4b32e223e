"""apimachinery.schemas: strict decoding like kube-apiserver, and the OpenAPI shapes."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from apimachinery.errors import StatusError
from apimachinery.quantity import FORMAT_WRONG, SUFFIX_WRONG, QuantityError, canonical
from apimachinery.resources import BY_KEY
from apimachinery.schemas import MODELS, components, decode, definition_name, json_schema
from apimachinery.schemas.pod import Container, ContainerPort
from apimachinery.timestamps import TimeError, normalize_micro_time, normalize_time

# --- realistic documents, already in canonical form and Go field order -------------

POD: dict[str, Any] = {
    "kind": "Pod",
    "apiVersion": "v1",
    "metadata": {
        "name": "web-7d4b9c9f4d-x2x9z",
        "generateName": "web-7d4b9c9f4d-",
        "namespace": "default",
        "uid": "4f1c3c5e-4b0a-4f59-9d0e-6c2b1a8e9f10",
        "resourceVersion": "12345",
        "generation": 1,
        "creationTimestamp": "2024-05-01T10:00:00Z",
        "deletionTimestamp": "2024-05-01T11:00:00Z",
        "deletionGracePeriodSeconds": 30,
        "labels": {"app": "web", "pod-template-hash": "7d4b9c9f4d"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-01T09:59:00Z"},
        "ownerReferences": [
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": "web-7d4b9c9f4d",
                "uid": "0a1b2c3d-0000-4000-8000-000000000001",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
        "finalizers": ["example.com/cleanup"],
        "managedFields": [
            {
                "manager": "kube-controller-manager",
                "operation": "Update",
                "apiVersion": "v1",
                "time": "2024-05-01T10:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}},
            }
        ],
    },
    "spec": {
        "volumes": [{"name": "data", "emptyDir": {}}],
        "initContainers": [{"name": "init", "image": "busybox:1.36", "command": ["sh", "-c", "true"]}],
        "containers": [
            {
                "name": "web",
                "image": "nginx:1.25",
                "command": ["nginx"],
                "args": ["-g", "daemon off;"],
                "workingDir": "/srv",
                "ports": [
                    {"name": "http", "containerPort": 80, "protocol": "TCP"},
                    {"name": "metrics", "hostPort": 9090, "containerPort": 9090, "protocol": "TCP", "hostIP": "0.0.0.0"},
                ],
                "envFrom": [{"configMapRef": {"name": "web-config"}}],
                "env": [
                    {"name": "MODE", "value": "prod"},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
                ],
                "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "livenessProbe": {"tcpSocket": {"port": 80}, "initialDelaySeconds": 3, "periodSeconds": 10},
                "readinessProbe": {
                    "httpGet": {"path": "/healthz", "port": "http", "scheme": "HTTP"},
                    "timeoutSeconds": 1,
                    "periodSeconds": 5,
                    "successThreshold": 1,
                    "failureThreshold": 3,
                },
                "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent",
                "securityContext": {"runAsNonRoot": True},
            }
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "serviceAccountName": "default",
        "serviceAccount": "default",
        "nodeName": "node-1",
        "securityContext": {},
        "hostname": "web-0",
        "subdomain": "web",
        "schedulerName": "default-scheduler",
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ],
        "priority": 0,
        "readinessGates": [{"conditionType": "example.com/ready"}],
        "enableServiceLinks": True,
        "preemptionPolicy": "PreemptLowerPriority",
    },
    "status": {
        "phase": "Running",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2024-05-01T10:00:05Z"},
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2024-05-01T10:00:00Z"},
        ],
        "hostIP": "10.0.0.5",
        "hostIPs": [{"ip": "10.0.0.5"}],
        "podIP": "10.244.1.7",
        "podIPs": [{"ip": "10.244.1.7"}, {"ip": "fd00::7"}],
        "startTime": "2024-05-01T10:00:00Z",
        "initContainerStatuses": [
            {
                "name": "init",
                "state": {
                    "terminated": {
                        "exitCode": 0,
                        "reason": "Completed",
                        "startedAt": "2024-05-01T10:00:01Z",
                        "finishedAt": "2024-05-01T10:00:02Z",
                        "containerID": "containerd://def",
                    }
                },
                "lastState": {},
                "ready": True,
                "restartCount": 0,
                "image": "busybox:1.36",
                "imageID": "docker.io/library/busybox@sha256:def",
                "containerID": "containerd://def",
            }
        ],
        "containerStatuses": [
            {
                "name": "web",
                "state": {"running": {"startedAt": "2024-05-01T10:00:03Z"}},
                "lastState": {},
                "ready": True,
                "restartCount": 0,
                "image": "nginx:1.25",
                "imageID": "docker.io/library/nginx@sha256:abc",
                "containerID": "containerd://abc",
                "started": True,
            }
        ],
        "qosClass": "Burstable",
    },
}

SERVICE: dict[str, Any] = {
    "kind": "Service",
    "apiVersion": "v1",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
    "spec": {
        "ports": [
            {"name": "http", "protocol": "TCP", "appProtocol": "http", "port": 80, "targetPort": "http", "nodePort": 30080},
            {"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 5353},
        ],
        "selector": {"app": "web"},
        "clusterIP": "10.96.0.10",
        "clusterIPs": ["10.96.0.10"],
        "type": "LoadBalancer",
        "externalIPs": ["192.0.2.10"],
        "sessionAffinity": "ClientIP",
        "loadBalancerSourceRanges": ["0.0.0.0/0"],
        "externalTrafficPolicy": "Cluster",
        "healthCheckNodePort": 32000,
        "publishNotReadyAddresses": False,
        "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 10800}},
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "allocateLoadBalancerNodePorts": True,
        "internalTrafficPolicy": "Cluster",
    },
    "status": {
        "loadBalancer": {
            "ingress": [{"ip": "192.0.2.10", "ipMode": "VIP", "ports": [{"port": 80, "protocol": "TCP"}]}]
        },
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "observedGeneration": 2,
                "lastTransitionTime": "2024-05-01T10:00:00Z",
                "reason": "Allocated",
                "message": "ok",
            }
        ],
    },
}

ENDPOINT_SLICE: dict[str, Any] = {
    "kind": "EndpointSlice",
    "apiVersion": "discovery.k8s.io/v1",
    "metadata": {
        "name": "web-abc12",
        "namespace": "default",
        "labels": {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "kubelite"},
    },
    "addressType": "IPv4",
    "endpoints": [
        {
            "addresses": ["10.244.1.7"],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "hostname": "web-0",
            "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-0", "uid": "4f1c3c5e"},
            "nodeName": "node-1",
            "zone": "zone-a",
            "hints": {"forZones": [{"name": "zone-a"}]},
        },
        {"addresses": ["10.244.2.9"], "conditions": {"ready": False}},
    ],
    "ports": [{"name": "http", "protocol": "TCP", "port": 8080, "appProtocol": "http"}],
}

LEASE: dict[str, Any] = {
    "kind": "Lease",
    "apiVersion": "coordination.k8s.io/v1",
    "metadata": {"name": "kubelite-ipam", "namespace": "kube-system"},
    "spec": {
        "holderIdentity": "ipam-1_4c0a",
        "leaseDurationSeconds": 15,
        "acquireTime": "2024-05-01T10:00:00.000000Z",
        "renewTime": "2024-05-01T10:00:10.123456Z",
        "leaseTransitions": 3,
    },
}

NODE: dict[str, Any] = {
    "kind": "Node",
    "apiVersion": "v1",
    "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1"}},
    "spec": {
        "podCIDR": "10.244.1.0/24",
        "podCIDRs": ["10.244.1.0/24"],
        "unschedulable": True,
        "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": "2024-05-01T10:00:00Z"}],
    },
    "status": {
        "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
        "allocatable": {"cpu": "3800m", "memory": "15Gi", "pods": "110"},
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "lastHeartbeatTime": "2024-05-01T10:00:00Z",
                "lastTransitionTime": "2024-05-01T09:00:00Z",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
            }
        ],
        "addresses": [{"type": "InternalIP", "address": "10.0.0.5"}, {"type": "Hostname", "address": "node-1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": "m",
            "systemUUID": "s",
            "bootID": "b",
            "kernelVersion": "6.1.0",
            "osImage": "Debian GNU/Linux 12",
            "containerRuntimeVersion": "kubelite://0.1",
            "kubeletVersion": "v1.31.0",
            "kubeProxyVersion": "v1.31.0",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    },
}

EVENT: dict[str, Any] = {
    "kind": "Event",
    "apiVersion": "v1",
    "metadata": {"name": "web.17c1a2b3c4d5e6f7", "namespace": "default"},
    "involvedObject": {"kind": "Service", "namespace": "default", "name": "web", "uid": "u-1", "apiVersion": "v1", "resourceVersion": "7"},
    "reason": "IPAllocated",
    "message": "allocated 10.96.0.10",
    "source": {"component": "ipam-controller", "host": "node-1"},
    "firstTimestamp": "2024-05-01T10:00:00Z",
    "lastTimestamp": "2024-05-01T10:05:00Z",
    "count": 2,
    "type": "Normal",
    "eventTime": "2024-05-01T10:00:00.000001Z",
    "series": {"count": 2, "lastObservedTime": "2024-05-01T10:05:00.000000Z"},
    "action": "Allocate",
    "reportingComponent": "kubelite/ipam",
    "reportingInstance": "ipam-1",
}

ENDPOINTS: dict[str, Any] = {
    "kind": "Endpoints",
    "apiVersion": "v1",
    "metadata": {"name": "web", "namespace": "default"},
    "subsets": [
        {
            "addresses": [{"ip": "10.244.1.7", "hostname": "web-0", "nodeName": "node-1", "targetRef": {"kind": "Pod", "name": "web-0"}}],
            "notReadyAddresses": [{"ip": "10.244.2.9"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}],
        }
    ],
}

NAMESPACE: dict[str, Any] = {
    "kind": "Namespace",
    "apiVersion": "v1",
    "metadata": {"name": "team-a"},
    "spec": {"finalizers": ["kubernetes"]},
    "status": {"phase": "Terminating", "conditions": [{"type": "NamespaceDeletionContentFailure", "status": "False"}]},
}

IP_ADDRESS: dict[str, Any] = {
    "kind": "IPAddress",
    "apiVersion": "networking.k8s.io/v1",
    "metadata": {"name": "10.96.0.10"},
    "spec": {"parentRef": {"group": "", "resource": "services", "namespace": "default", "name": "web"}},
}

SERVICE_CIDR: dict[str, Any] = {
    "kind": "ServiceCIDR",
    "apiVersion": "networking.k8s.io/v1",
    "metadata": {"name": "kubernetes"},
    "spec": {"cidrs": ["10.96.0.0/12", "fd00:10:96::/112"]},
    "status": {"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-05-01T10:00:00Z", "reason": "", "message": ""}]},
}

PORT_ALLOCATION: dict[str, Any] = {
    "kind": "PortAllocation",
    "apiVersion": "kubelite.io/v1",
    "metadata": {"name": "tcp-30080"},
    "spec": {"protocol": "TCP", "port": 30080, "parentRef": {"group": "", "resource": "services", "namespace": "default", "name": "web"}},
}

DEPLOYMENT: dict[str, Any] = {
    "kind": "Deployment",
    "apiVersion": "apps/v1",
    "metadata": {"name": "web", "namespace": "default", "generation": 3,
                 "annotations": {"deployment.kubernetes.io/revision": "2"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"},
                     "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]},
        "template": {
            "metadata": {"labels": {"app": "web", "tier": "front"}},
            "spec": {"containers": [{"name": "echo", "image": "kubelite/echo:v2",
                                     "ports": [{"containerPort": 8080, "protocol": "TCP"}]}],
                     "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst"},
        },
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
        "minReadySeconds": 5,
        "revisionHistoryLimit": 10,
        "paused": True,
        "progressDeadlineSeconds": 600,
    },
    "status": {
        "observedGeneration": 3,
        "replicas": 4,
        "updatedReplicas": 2,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "unavailableReplicas": 1,
        "terminatingReplicas": 1,
        "conditions": [{"type": "Progressing", "status": "True", "lastUpdateTime": "2024-05-01T10:00:00Z",
                        "lastTransitionTime": "2024-05-01T09:00:00Z", "reason": "ReplicaSetUpdated",
                        "message": 'ReplicaSet "web-5c8b7f4c99" is progressing.'}],
        "collisionCount": 1,
    },
}

REPLICA_SET: dict[str, Any] = {
    "kind": "ReplicaSet",
    "apiVersion": "apps/v1",
    "metadata": {"name": "web-5c8b7f4c99", "namespace": "default", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "minReadySeconds": 5,
        "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5c8b7f4c99"}},
        "template": {"metadata": {"labels": {"app": "web", "pod-template-hash": "5c8b7f4c99"}},
                     "spec": {"containers": [{"name": "echo", "image": "kubelite/echo"}]}},
    },
    "status": {
        "replicas": 2,
        "fullyLabeledReplicas": 2,
        "readyReplicas": 1,
        "availableReplicas": 1,
        "terminatingReplicas": 0,
        "observedGeneration": 4,
        "conditions": [{"type": "ReplicaFailure", "status": "True", "lastTransitionTime": "2024-05-01T10:00:00Z",
                        "reason": "FailedCreate", "message": "pods is forbidden"}],
    },
}
CONFIG_MAP = {
    "kind": "ConfigMap",
    "apiVersion": "v1",
    "metadata": {"name": "app", "namespace": "default"},
    "immutable": True,
    "data": {"app.properties": "color=blue\n"},
    "binaryData": {"logo.png": "iVBORw0KGgo="},
}
POD_DISRUPTION_BUDGET = {
    "kind": "PodDisruptionBudget",
    "apiVersion": "policy/v1",
    "metadata": {"name": "web", "namespace": "default", "generation": 2},
    "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "web"}},
             "unhealthyPodEvictionPolicy": "AlwaysAllow"},
    "status": {
        "observedGeneration": 2,
        "disruptedPods": {"web-1": "2024-05-01T10:00:00Z"},
        "disruptionsAllowed": 1,
        "currentHealthy": 3,
        "desiredHealthy": 2,
        "expectedPods": 4,
        "conditions": [{"type": "DisruptionAllowed", "status": "True", "observedGeneration": 2,
                        "lastTransitionTime": "2024-05-01T10:00:00Z", "reason": "SufficientPods", "message": ""}],
    },
}
SECRET = {
    "kind": "Secret",
    "apiVersion": "v1",
    "metadata": {"name": "db", "namespace": "default"},
    "immutable": True,
    "data": {"password": "aHVudGVyMg=="},
    "stringData": {"username": "admin"},
    "type": "Opaque",
}


PERSISTENT_VOLUME_CLAIM = {
    "kind": "PersistentVolumeClaim",
    "apiVersion": "v1",
    "metadata": {"name": "data", "namespace": "default"},
    "spec": {
        "accessModes": ["ReadWriteOnce"],
        "selector": {"matchLabels": {"tier": "db"}},
        "resources": {"limits": {"storage": "2Gi"}, "requests": {"storage": "1Gi"}},
        "volumeName": "pv-1",
        "storageClassName": "fast",
        "volumeMode": "Filesystem",
        "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"},
        "dataSourceRef": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap",
                          "namespace": "default"},
        "volumeAttributesClassName": "gold",
    },
    "status": {
        "phase": "Bound",
        "accessModes": ["ReadWriteOnce"],
        "capacity": {"storage": "1Gi"},
        "conditions": [{"type": "Resizing", "status": "True", "lastProbeTime": "2024-01-02T03:04:05Z",
                        "lastTransitionTime": "2024-01-02T03:04:05Z", "reason": "r", "message": "m"}],
        "allocatedResources": {"storage": "1Gi"},
        "allocatedResourceStatuses": {"storage": "ControllerResizeInProgress"},
        "currentVolumeAttributesClassName": "gold",
        "modifyVolumeStatus": {"targetVolumeAttributesClassName": "silver", "status": "InProgress"},
    },
}

PERSISTENT_VOLUME = {
    "kind": "PersistentVolume",
    "apiVersion": "v1",
    "metadata": {"name": "pv-1"},
    "spec": {
        "capacity": {"storage": "10Gi"},
        "hostPath": {"path": "/data", "type": "DirectoryOrCreate"},
        "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
        "claimRef": {"kind": "PersistentVolumeClaim", "namespace": "default", "name": "data"},
        "persistentVolumeReclaimPolicy": "Retain",
        "storageClassName": "fast",
        "mountOptions": ["ro"],
        "volumeMode": "Filesystem",
        "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}},
        "volumeAttributesClassName": "gold",
    },
    "status": {"phase": "Bound", "message": "m", "reason": "r", "lastPhaseTransitionTime": "2024-01-02T03:04:05Z"},
}

INGRESS = {
    "kind": "Ingress",
    "apiVersion": "networking.k8s.io/v1",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "ingressClassName": "nginx",
        "defaultBackend": {"resource": {"apiGroup": "k8s.example.com", "kind": "StorageBucket", "name": "static"}},
        "tls": [{"hosts": ["a.example.com"], "secretName": "tls"}],
        "rules": [{"host": "a.example.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
            {"path": "/api", "pathType": "Exact", "backend": {"service": {"name": "api", "port": {"name": "http"}}}},
        ]}}],
    },
    "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1", "hostname": "lb.example.com",
                                             "ports": [{"port": 443, "protocol": "TCP", "error": "e"}]}]}},
}

INGRESS_CLASS = {
    "kind": "IngressClass",
    "apiVersion": "networking.k8s.io/v1",
    "metadata": {"name": "nginx"},
    "spec": {"controller": "example.com/ingress-controller",
             "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p",
                            "scope": "Namespace", "namespace": "default"}},
}


JOB = {
    "kind": "Job",
    "apiVersion": "batch/v1",
    "metadata": {"name": "pi", "namespace": "default"},
    "spec": {
        "parallelism": 2,
        "completions": 3,
        "activeDeadlineSeconds": 600,
        "podFailurePolicy": {"rules": [{"action": "FailJob",
                                        "onExitCodes": {"containerName": "c", "operator": "In", "values": [42]},
                                        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]},
        "successPolicy": {"rules": [{"succeededIndexes": "0-2", "succeededCount": 1}]},
        "backoffLimit": 6,
        "backoffLimitPerIndex": 1,
        "maxFailedIndexes": 1,
        "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
        "manualSelector": False,
        "template": {"metadata": {"labels": {"job-name": "pi"}},
                     "spec": {"containers": [{"name": "c", "image": "perl"}], "restartPolicy": "Never"}},
        "ttlSecondsAfterFinished": 100,
        "completionMode": "Indexed",
        "suspend": False,
        "podReplacementPolicy": "Failed",
        "managedBy": "kubernetes.io/job-controller",
    },
    "status": {
        "conditions": [{"type": "Complete", "status": "True", "lastProbeTime": "2024-01-02T03:04:05Z",
                        "lastTransitionTime": "2024-01-02T03:04:05Z", "reason": "CompletionsReached",
                        "message": "Reached expected number of succeeded pods"}],
        "startTime": "2024-01-02T03:04:00Z",
        "completionTime": "2024-01-02T03:04:05Z",
        "active": 1,
        "succeeded": 3,
        "failed": 1,
        "terminating": 0,
        "completedIndexes": "0-2",
        "failedIndexes": "3",
        "uncountedTerminatedPods": {"succeeded": ["a"], "failed": ["b"]},
        "ready": 0,
    },
}


CRON_JOB = {
    "kind": "CronJob",
    "apiVersion": "batch/v1",
    "metadata": {"name": "tick", "namespace": "default"},
    "spec": {
        "schedule": "*/5 * * * *",
        "timeZone": "Europe/Paris",
        "startingDeadlineSeconds": 30,
        "concurrencyPolicy": "Forbid",
        "suspend": False,
        "jobTemplate": {"metadata": {"labels": {"app": "tick"}},
                        "spec": {"backoffLimit": 2, "template": {"spec": {
                            "containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "OnFailure"}}}},
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 1,
    },
    "status": {
        "active": [{"kind": "Job", "namespace": "default", "name": "tick-1", "uid": "u", "apiVersion": "batch/v1",
                    "resourceVersion": "7"}],
        "lastScheduleTime": "2024-01-02T03:05:00Z",
        "lastSuccessfulTime": "2024-01-02T03:00:09Z",
    },
}
SERVICE_ACCOUNT = {
    "kind": "ServiceAccount",
    "apiVersion": "v1",
    "metadata": {"name": "builder", "namespace": "default"},
    "secrets": [{"kind": "Secret", "namespace": "default", "name": "s1", "uid": "u-1", "apiVersion": "v1",
                 "resourceVersion": "5", "fieldPath": "data"}],
    "imagePullSecrets": [{"name": "registry"}],
    "automountServiceAccountToken": False,
}
PRIORITY_CLASS = {
    "kind": "PriorityClass",
    "apiVersion": "scheduling.k8s.io/v1",
    "metadata": {"name": "high"},
    "value": 1000,
    "globalDefault": True,
    "description": "the important ones",
    "preemptionPolicy": "Never",
}
REPLICATION_CONTROLLER = {
    "kind": "ReplicationController",
    "apiVersion": "v1",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "replicas": 2,
        "minReadySeconds": 5,
        "selector": {"app": "web"},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
    },
    "status": {
        "replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 1, "availableReplicas": 1,
        "observedGeneration": 3,
        "conditions": [{"type": "ReplicaFailure", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z",
                        "reason": "FailedCreate", "message": "pods is forbidden"}],
    },
}
STATEFUL_SET = {
    "kind": "StatefulSet",
    "apiVersion": "apps/v1",
    "metadata": {"name": "web", "namespace": "default", "generation": 2},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": {"metadata": {"labels": {"app": "nginx"}},
                     "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "www"},
                                  "spec": {"accessModes": ["ReadWriteOnce"],
                                           "resources": {"requests": {"storage": "1Gi"}}}}],
        "serviceName": "nginx",
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1, "maxUnavailable": 1}},
        "revisionHistoryLimit": 10,
        "minReadySeconds": 5,
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Delete"},
        "ordinals": {"start": 0},
    },
    "status": {
        "observedGeneration": 2,
        "replicas": 3,
        "readyReplicas": 2,
        "currentReplicas": 1,
        "updatedReplicas": 2,
        "currentRevision": "web-6d4cf56db6",
        "updateRevision": "web-7c5ddbdf54",
        "collisionCount": 0,
        "conditions": [{"type": "Progressing", "status": "True", "lastTransitionTime": "2024-05-01T10:00:00Z",
                        "reason": "Rolling", "message": "rolling"}],
        "availableReplicas": 2,
    },
}
CONTROLLER_REVISION = {
    "kind": "ControllerRevision",
    "apiVersion": "apps/v1",
    "metadata": {"name": "web-6d4cf56db6", "namespace": "default"},
    "data": {"spec": {"template": {"$patch": "replace", "metadata": {"labels": {"app": "nginx"}}}}},
    "revision": 1,
}
DAEMON_SET = {
    "kind": "DaemonSet",
    "apiVersion": "apps/v1",
    "metadata": {"name": "agent", "namespace": "kube-system",
                 "annotations": {"deprecated.daemonset.template.generation": "2"}},
    "spec": {
        "selector": {"matchLabels": {"app": "agent"}},
        "template": {"metadata": {"labels": {"app": "agent"}},
                     "spec": {"containers": [{"name": "a", "image": "agent:1"}], "nodeSelector": {"disk": "ssd"}}},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
        "minReadySeconds": 5,
        "revisionHistoryLimit": 10,
    },
    "status": {
        "currentNumberScheduled": 3,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 3,
        "numberReady": 2,
        "observedGeneration": 2,
        "updatedNumberScheduled": 1,
        "numberAvailable": 2,
        "numberUnavailable": 1,
        "collisionCount": 0,
        "conditions": [{"type": "Rolling", "status": "True", "lastTransitionTime": "2024-05-01T10:00:00Z",
                        "reason": "R", "message": "m"}],
    },
}


DOCUMENTS = [
    ("deployments.apps", DEPLOYMENT),
    ("replicasets.apps", REPLICA_SET),
    ("pods", POD),
    ("services", SERVICE),
    ("endpointslices.discovery.k8s.io", ENDPOINT_SLICE),
    ("leases.coordination.k8s.io", LEASE),
    ("nodes", NODE),
    ("events", EVENT),
    ("endpoints", ENDPOINTS),
    ("namespaces", NAMESPACE),
    ("ipaddresses.networking.k8s.io", IP_ADDRESS),
    ("servicecidrs.networking.k8s.io", SERVICE_CIDR),
    ("portallocations.kubelite.io", PORT_ALLOCATION),
    ("configmaps", CONFIG_MAP),
    ("poddisruptionbudgets.policy", POD_DISRUPTION_BUDGET),
    ("secrets", SECRET),
    ("persistentvolumeclaims", PERSISTENT_VOLUME_CLAIM),
    ("persistentvolumes", PERSISTENT_VOLUME),
    ("ingresses.networking.k8s.io", INGRESS),
    ("ingressclasses.networking.k8s.io", INGRESS_CLASS),
    ("jobs.batch", JOB),
    ("cronjobs.batch", CRON_JOB),
    ("serviceaccounts", SERVICE_ACCOUNT),
    ("priorityclasses.scheduling.k8s.io", PRIORITY_CLASS),
    ("replicationcontrollers", REPLICATION_CONTROLLER),
    ("statefulsets.apps", STATEFUL_SET),
    ("controllerrevisions.apps", CONTROLLER_REVISION),
    ("daemonsets.apps", DAEMON_SET),
]


def _error(key: str, body: dict[str, Any]) -> StatusError:
    with pytest.raises(StatusError) as info:
        decode(key, body)
    return info.value


def _keys(node: Any) -> list[Any]:
    """Every key path of a document in order, to compare field order as well as content."""
    if isinstance(node, dict):
        return [(k, _keys(v)) for k, v in node.items()]
    if isinstance(node, list):
        return [_keys(v) for v in node]
    return []


# --- registry --------------------------------------------------------------------


def test_every_registered_resource_has_a_model() -> None:
    assert set(MODELS) == set(BY_KEY)
    assert {key for key, _ in DOCUMENTS} == set(BY_KEY)


def test_models_build_lazily_and_work_from_a_fresh_interpreter() -> None:
    """defer_build keeps the import cheap; the first decode/json_schema must still work at any stack depth."""
    code = (
        "from apimachinery.schemas import MODELS, decode, json_schema\n"
        "from apimachinery.schemas.base import built\n"
        "assert not MODELS['pods'].__pydantic_complete__\n"
        "assert decode('pods', {'spec': {'nodeName': 'n'}}) == ({'spec': {'nodeName': 'n'}}, [])\n"
        "assert json_schema('leases.coordination.k8s.io')['properties']\n"
        "built(MODELS['nodes']).__pydantic_validator__.validate_python({})\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


# --- round trip ----------------------------------------------------------------


@pytest.mark.parametrize(("key", "doc"), DOCUMENTS, ids=[k for k, _ in DOCUMENTS])
def test_round_trip_keeps_every_known_field(key: str, doc: dict[str, Any]) -> None:
    original = copy.deepcopy(doc)
    out, unknown = decode(key, doc)
    assert unknown == []
    assert out == doc
    assert _keys(out) == _keys(doc), "fields come out in Go struct order"
    assert doc == original, "decode must not modify its input"
    assert out is not doc and out.get("metadata") is not doc.get("metadata")


def test_output_follows_go_field_order_not_input_order() -> None:
    body = {"spec": {"selector": {"a": "b"}, "ports": [{"port": 80, "name": "x"}]}, "metadata": {"namespace": "n", "name": "s"}, "apiVersion": "v1", "kind": "Service"}
    out, _ = decode("services", body)
    assert list(out) == ["kind", "apiVersion", "metadata", "spec"]
    assert list(out["metadata"]) == ["name", "namespace"]
    assert list(out["spec"]) == ["ports", "selector"]
    assert list(out["spec"]["ports"][0]) == ["name", "port"]


def test_kind_and_api_version_are_kept_as_given() -> None:
    out, _ = decode("services", {"kind": "Whatever", "apiVersion": "v9"})
    assert out == {"kind": "Whatever", "apiVersion": "v9"}


# --- kubectl payloads ----------------------------------------------------------------


def test_kubectl_run_nulls_and_empty_objects() -> None:
    body = {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": "nginx", "creationTimestamp": None, "labels": {"run": "nginx"}},
        "spec": {
            "containers": [{"name": "nginx", "image": "nginx", "resources": {}}],
            "dnsPolicy": "ClusterFirst",
            "restartPolicy": "Always",
        },
        "status": {},
    }
    out, unknown = decode("pods", body)
    assert unknown == []
    assert out == {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": "nginx", "labels": {"run": "nginx"}},
        "spec": {
            "containers": [{"name": "nginx", "image": "nginx", "resources": {}}],
            "restartPolicy": "Always",
            "dnsPolicy": "ClusterFirst",
        },
        "status": {},
    }


def test_kubectl_create_service_payload() -> None:
    body = {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": "web", "creationTimestamp": None, "labels": {"app": "web"}},
        "spec": {
            "ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080}],
            "selector": {"app": "web"},
            "type": "ClusterIP",
        },
        "status": {"loadBalancer": {}},
    }
    out, unknown = decode("services", body)
    assert unknown == []
    assert out["status"] == {"loadBalancer": {}}
    assert out["spec"]["ports"][0]["targetPort"] == 8080
    assert "creationTimestamp" not in out["metadata"]


@pytest.mark.parametrize(
    ("key", "body", "expected"),
    [
        ("pods", {"spec": {"nodeName": None, "containers": None}}, {"spec": {}}),
        ("leases.coordination.k8s.io", {"spec": {"holderIdentity": None, "renewTime": None}}, {"spec": {}}),
        ("events", {"eventTime": None, "series": None, "reason": "X"}, {"reason": "X"}),
        ("services", {"spec": {"ports": [{"port": 80, "nodePort": None}]}}, {"spec": {"ports": [{"port": 80}]}}),
    ],
)
def test_explicit_nulls_are_dropped(key: str, body: dict[str, Any], expected: dict[str, Any]) -> None:
    assert decode(key, body) == (expected, [])


# --- unknown fields --------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "body", "paths", "expected"),
    [
        ("services", {"spec": {"bogus": 1}}, ["spec.bogus"], {"spec": {}}),
        (
            "services",
            {"spec": {"ports": [{"port": 80}, {"port": 81, "foo": "x"}]}},
            ["spec.ports[1].foo"],
            {"spec": {"ports": [{"port": 80}, {"port": 81}]}},
        ),
        ("services", {"metadata": {"name": "a", "nmae": "b"}}, ["metadata.nmae"], {"metadata": {"name": "a"}}),
        ("services", {"extra": None, "kind": "Service"}, ["extra"], {"kind": "Service"}),
        (
            "pods",
            {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostIp": "x"}]}]}},
            ["spec.containers[0].ports[0].hostIp"],
            {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}},
        ),
        (
            "endpointslices.discovery.k8s.io",
            {"endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True, "healthy": True}}]},
            ["endpoints[0].conditions.healthy"],
            {"endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}]},
        ),
        (
            "services",
            {"spec": {"z": 1, "ports": [{"zz": 1, "port": 1}]}, "metadata": {"q": 1}},
            ["spec.z", "spec.ports[0].zz", "metadata.q"],
            {"metadata": {}, "spec": {"ports": [{"port": 1}]}},
        ),
        ("nodes", {"status": {"daemonEndpoints": {"kubeletEndpoint": {"port": 1}}}}, ["status.daemonEndpoints.kubeletEndpoint.port"], {"status": {"daemonEndpoints": {"kubeletEndpoint": {}}}}),
    ],
    ids=["top-of-spec", "in-list", "typo", "null-valued", "wrong-case-acronym", "discovery", "document-order", "Port-is-capital"],
)
def test_unknown_fields_are_reported_and_dropped(
    key: str, body: dict[str, Any], paths: list[str], expected: dict[str, Any]
) -> None:
    original = copy.deepcopy(body)
    out, unknown = decode(key, body)
    assert unknown == paths
    assert out == expected
    assert body == original


def test_python_attribute_names_are_not_accepted_on_the_wire() -> None:
    """populate_by_name serves Python callers; JSON must use Kubernetes' names, case-sensitively."""
    out, unknown = decode("pods", {"spec": {"node_name": "n", "NodeName": "m"}})
    assert unknown == ["spec.node_name", "spec.NodeName"]
    assert out == {"spec": {}}
    port = ContainerPort(container_port=80, host_ip="1.2.3.4")
    assert Container(name="c", ports=[port]).model_dump(by_alias=True, exclude_none=True) == {
        "name": "c",
        "ports": [{"containerPort": 80, "hostIP": "1.2.3.4"}],
    }


def test_loose_structs_keep_their_content() -> None:
    affinity: dict[str, Any] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}}
    out, unknown = decode("pods", {"spec": {"affinity": affinity}})
    assert unknown == []
    assert out == {"spec": {"affinity": affinity}}


# --- type errors -------------------------------------------------------------------

_PREFIX = 'Pod in version "v1" cannot be handled as a Pod: '


@pytest.mark.parametrize(
    ("key", "body", "message"),
    [
        (
            "services",
            {"kind": "Service", "apiVersion": "v1", "spec": {"ports": [{"port": "80"}]}},
            'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal string into Go struct '
            "field ServicePort.spec.ports.port of type int32",
        ),
        (
            "services",
            {"spec": {"ports": [{"port": 80, "targetPort": True}]}},
            'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal bool into Go struct '
            "field ServicePort.spec.ports.targetPort of type int32",
        ),
        (
            "services",
            {"spec": {"ports": [{"port": 80, "targetPort": 70000000000}]}},
            'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal number 70000000000 into '
            "Go struct field ServicePort.spec.ports.targetPort of type int32",
        ),
        (
            "services",
            {"spec": {"type": 1}},
            'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal number into Go struct '
            "field ServiceSpec.spec.type of type v1.ServiceType",
        ),
        (
            "services",
            {"spec": {"clusterIPs": "10.0.0.1"}},
            'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal string into Go struct '
            "field ServiceSpec.spec.clusterIPs of type []string",
        ),
        ("pods", {"spec": {"containers": {}}}, _PREFIX + "json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container"),
        ("pods", {"spec": {"containers": ["nginx"]}}, _PREFIX + "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type v1.Container"),
        (
            "pods",
            {"spec": {"containers": [{"ports": [{"containerPort": 1.5}]}]}},
            _PREFIX + "json: cannot unmarshal number 1.5 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32",
        ),
        (
            "pods",
            {"spec": {"containers": [{"command": ["a", 1]}]}},
            _PREFIX + "json: cannot unmarshal number into Go struct field Container.spec.containers.command of type string",
        ),
        ("pods", {"metadata": {"labels": {"a": 1}}}, _PREFIX + "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"),
        ("pods", {"metadata": "x"}, _PREFIX + "json: cannot unmarshal string into Go struct field Pod.metadata of type v1.ObjectMeta"),
        ("pods", {"metadata": {"generation": "1"}}, _PREFIX + "json: cannot unmarshal string into Go struct field ObjectMeta.metadata.generation of type int64"),
        ("pods", {"metadata": {"uid": 5}}, _PREFIX + "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.uid of type types.UID"),
        ("pods", {"spec": {"hostNetwork": "true"}}, _PREFIX + "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool"),
        ("pods", {"spec": {"hostNetwork": 1}}, _PREFIX + "json: cannot unmarshal number into Go struct field PodSpec.spec.hostNetwork of type bool"),
        (
            "pods",
            {"spec": {"securityContext": []}},
            _PREFIX + "json: cannot unmarshal array into Go struct field PodSpec.spec.securityContext of type v1.PodSecurityContext",
        ),
        (
            "pods",
            {"spec": {"containers": [{"readinessProbe": {"httpGet": {"port": {}}}}]}},
            _PREFIX + "json: cannot unmarshal object into Go struct field HTTPGetAction.spec.containers.readinessProbe.httpGet.port of type int32",
        ),
        ("pods", {"metadata": {"creationTimestamp": 5}}, _PREFIX + "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string"),
        (
            "pods",
            {"metadata": {"creationTimestamp": "yesterday"}},
            _PREFIX + 'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"',
        ),
        ("pods", {"spec": {"containers": [{"resources": {"limits": {"cpu": "lots"}}}]}}, _PREFIX + FORMAT_WRONG),
        ("pods", {"spec": {"containers": [{"resources": {"limits": {"cpu": True}}}]}}, _PREFIX + FORMAT_WRONG),
        ("pods", {"spec": {"overhead": {"cpu": "1e"}}}, _PREFIX + SUFFIX_WRONG),
        (
            "pods",
            {"spec": {"containers": [{"resources": {"limits": "1"}}]}},
            _PREFIX + "json: cannot unmarshal string into Go struct field ResourceRequirements.spec.containers.resources.limits of type v1.ResourceList",
        ),
        (
            "endpointslices.discovery.k8s.io",
            {"apiVersion": "discovery.k8s.io/v1", "endpoints": [{"conditions": {"ready": "yes"}}]},
            'EndpointSlice in version "v1" cannot be handled as a EndpointSlice: json: cannot unmarshal string into '
            "Go struct field EndpointConditions.endpoints.conditions.ready of type bool",
        ),
        (
            "leases.coordination.k8s.io",
            {"spec": {"leaseDurationSeconds": "15"}},
            'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal string into Go struct field '
            "LeaseSpec.spec.leaseDurationSeconds of type int32",
        ),
        (
            "ipaddresses.networking.k8s.io",
            {"spec": {"parentRef": "services/web"}},
            'IPAddress in version "v1" cannot be handled as a IPAddress: json: cannot unmarshal string into Go struct '
            "field IPAddressSpec.spec.parentRef of type v1.ParentReference",
        ),
        (
            "nodes",
            {"spec": {"taints": [{"key": "k", "effect": 1}]}},
            'Node in version "v1" cannot be handled as a Node: json: cannot unmarshal number into Go struct field '
            "Taint.spec.taints.effect of type v1.TaintEffect",
        ),
        (
            "events",
            {"count": "2"},
            'Event in version "v1" cannot be handled as a Event: json: cannot unmarshal string into Go struct field '
            "Event.count of type int32",
        ),
    ],
)
def test_type_errors_are_bad_requests_worded_like_go(key: str, body: dict[str, Any], message: str) -> None:
    err = _error(key, body)
    assert err.code == 400
    assert err.reason == "BadRequest"
    assert err.message == message
    assert err.status["status"] == "Failure"


def test_type_error_wins_over_unknown_fields_and_first_in_document_order() -> None:
    body = {"spec": {"bogus": 1, "ports": [{"port": "x"}]}, "metadata": {"labels": {"a": 1}}}
    assert _error("services", body).message.endswith("ServicePort.spec.ports.port of type int32")


def test_message_uses_the_kind_and_version_of_the_body() -> None:
    err = _error("services", {"kind": "Svc", "apiVersion": "v2", "spec": {"ports": [{"port": "x"}]}})
    assert err.message.startswith('Svc in version "v2" cannot be handled as a Service: ')


@pytest.mark.parametrize(
    ("field", "value", "go_type"),
    [
        ("priority", True, "int32"),
        ("priority", 1.0, "int32"),
        ("priority", "1", "int32"),
        ("hostNetwork", 1, "bool"),
        ("hostNetwork", "false", "bool"),
        ("nodeName", 1, "string"),
        ("nodeName", False, "string"),
    ],
)
def test_scalars_are_strict(field: str, value: Any, go_type: str) -> None:
    assert _error("pods", {"spec": {field: value}}).message.endswith(f"PodSpec.spec.{field} of type {go_type}")


# --- quantities and timestamps ------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("100m", "100m"),
        ("1000m", "1"),
        ("0.5", "500m"),
        ("1024Mi", "1Gi"),
        ("1.5Gi", "1536Mi"),
        ("128Mi", "128Mi"),
        ("0.5Ki", "512"),
        ("1000", "1k"),
        ("1500", "1500"),
        ("10000k", "10M"),
        ("1e3", "1e3"),
        ("0.0000000001", "1n"),
        ("-1.5", "-1500m"),
        ("+2", "2"),
        (" 3 ", "3"),
        (2, "2"),
        (0.25, "250m"),
        ("0", "0"),
    ],
)
def test_quantities_are_stored_canonically(given: Any, stored: str) -> None:
    out, _ = decode("nodes", {"status": {"capacity": {"cpu": given}}})
    assert out == {"status": {"capacity": {"cpu": stored}}}


@pytest.mark.parametrize(
    ("text", "message"),
    [("", FORMAT_WRONG), ("abc", FORMAT_WRONG), ("5Q", FORMAT_WRONG), ("1e", SUFFIX_WRONG), ("1Z", FORMAT_WRONG)],
)
def test_bad_quantities(text: str, message: str) -> None:
    with pytest.raises(QuantityError) as info:
        canonical(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("given", "time", "micro"),
    [
        ("2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.000000Z"),
        ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.000000Z"),
        ("2024-05-01T10:00:00.987654321Z", "2024-05-01T10:00:00Z", "2024-05-01T10:00:00.987654Z"),
        ("2024-12-31T23:30:00-01:00", "2025-01-01T00:30:00Z", "2025-01-01T00:30:00.000000Z"),
        ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000000Z"),
    ],
)
def test_timestamps_are_stored_in_utc(given: str, time: str, micro: str) -> None:
    assert normalize_time(given) == time
    assert normalize_micro_time(given) == micro


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", 'parsing time "" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "2006"'),
        ("2024/05/01T10:00:00Z", 'parsing time "2024/05/01T10:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse "/05/01T10:00:00Z" as "-"'),
        ("2024-05-01 10:00:00Z", 'parsing time "2024-05-01 10:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse " 10:00:00Z" as "T"'),
        ("2024-05-01T10:00:00", 'parsing time "2024-05-01T10:00:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00"'),
        ("2024-13-01T10:00:00Z", 'parsing time "2024-13-01T10:00:00Z": month out of range'),
        ("2023-02-29T10:00:00Z", 'parsing time "2023-02-29T10:00:00Z": day out of range'),
        ("2024-05-01T24:00:00Z", 'parsing time "2024-05-01T24:00:00Z": hour out of range'),
        ("2024-05-01T10:00:00Zjunk", 'parsing time "2024-05-01T10:00:00Zjunk": extra text: "junk"'),
    ],
)
def test_bad_timestamps_read_like_go(given: str, message: str) -> None:
    with pytest.raises(TimeError) as info:
        normalize_time(given)
    assert str(info.value) == message


def test_timestamps_inside_objects_are_normalized() -> None:
    body = {"metadata": {"creationTimestamp": "2024-05-01T12:00:00+02:00"}, "spec": {"renewTime": "2024-05-01T10:00:00Z"}}
    out, _ = decode("leases.coordination.k8s.io", body)
    assert out == {"metadata": {"creationTimestamp": "2024-05-01T10:00:00Z"}, "spec": {"renewTime": "2024-05-01T10:00:00.000000Z"}}


# --- OpenAPI -----------------------------------------------------------------------


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        out = {node["$ref"]} if "$ref" in node else set()
        for v in node.values():
            out |= _refs(v)
        return out
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node)) if node else set()
    return set()


def test_json_schema_of_a_kind() -> None:
    schema = json_schema("services")
    assert schema["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Service", "version": "v1"}]
    assert schema["properties"]["spec"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.ServiceSpec"}
    port = schema["$defs"]["io.k8s.api.core.v1.ServicePort"]["properties"]
    assert port["port"] == {"type": "integer", "format": "int32"}
    assert port["targetPort"]["x-kubernetes-int-or-string"] is True
    assert "title" not in port["port"] and "anyOf" not in port["name"]
    meta = schema["$defs"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]
    assert meta["creationTimestamp"] == {"type": "string", "format": "date-time"}
    schema["properties"].clear()
    assert json_schema("services")["properties"], "callers get a copy"


def test_components_resolve_every_ref() -> None:
    schemas = components(MODELS)
    for key, model in MODELS.items():
        gvk = schemas[definition_name(model)]["x-kubernetes-group-version-kind"]
        rt = BY_KEY[key]
        assert gvk == [{"group": rt.group, "kind": rt.kind, "version": rt.version}]
    prefix = "#/components/schemas/"
    for ref in _refs(schemas):
        assert ref.startswith(prefix) and ref[len(prefix):] in schemas, ref
    assert "io.k8s.api.discovery.v1.EndpointPort" in schemas and "io.k8s.api.core.v1.EndpointPort" in schemas


def test_binary_data_is_go_base64() -> None:
    """[]byte decodes as standard base64 (CR/LF skipped) and comes back canonical; errors as Go words them."""
    out, _ = decode("configmaps", {"binaryData": {"k": "aG\r\nk="}})
    assert out == {"binaryData": {"k": "aGk="}}
    for value, offset in [("aGk", 0), ("aGk=x", 4), ("a!Gk", 1), ("YQ=", 3), ("Y===", 1)]:
        assert _error("configmaps", {"binaryData": {"k": value}}).message == (
            f'ConfigMap in version "v1" cannot be handled as a ConfigMap: illegal base64 data at input byte {offset}')
    assert _error("configmaps", {"binaryData": {"k": 1}}).message == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: '
        "json: cannot unmarshal number into Go struct field ConfigMap.binaryData of type []uint8")
