"""Well-known label and annotation keys (k8s.io/api's wellknown labels/annotations), one home each.

Why one home: a key spelt in two places drifts (a typo there and the endpoints controller and the proxy
stop seeing each other's slices); every controller and kctl reads the key from here. The values are
Kubernetes' own; renaming one breaks compatibility with real clients and kubectl.
"""

from __future__ import annotations

# discovery.k8s.io: EndpointSlice labels (discovery/v1 well_known_labels.go)
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
# core/v1 well_known_labels.go
LABEL_HEADLESS = "service.kubernetes.io/headless"
LABEL_ZONE = "topology.kubernetes.io/zone"
# networking/v1 IPAddress labels
LABEL_IP_FAMILY = "ipaddress.kubernetes.io/ip-family"
LABEL_IPADDRESS_MANAGED_BY = "ipaddress.kubernetes.io/managed-by"

# core/v1 annotation_key_constants.go
ANNOTATION_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
ANNOTATION_OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
ANNOTATION_TOLERATE_UNREADY = "service.alpha.kubernetes.io/tolerate-unready-endpoints"
ANNOTATION_LEADER = "control-plane.alpha.kubernetes.io/leader"
ANNOTATION_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ANNOTATION_CHANGE_CAUSE = "kubernetes.io/change-cause"
ANNOTATION_RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
ANNOTATION_DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"
# apps: deployment/util annotations
ANNOTATION_REVISION = "deployment.kubernetes.io/revision"
ANNOTATION_REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
ANNOTATION_DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
ANNOTATION_MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
# batch/v1 well_known labels and annotations (types.go): Jobs' Pods and CronJobs' Jobs
LABEL_JOB_NAME = "batch.kubernetes.io/job-name"
LABEL_LEGACY_JOB_NAME = "job-name"
LABEL_CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
LABEL_LEGACY_CONTROLLER_UID = "controller-uid"
LABEL_JOB_COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"  # also an annotation of the same name
ANNOTATION_JOB_COMPLETION_INDEX = LABEL_JOB_COMPLETION_INDEX
FINALIZER_JOB_TRACKING = "batch.kubernetes.io/job-tracking"
ANNOTATION_CRONJOB_SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
ANNOTATION_CRONJOB_INSTANTIATE = "cronjob.kubernetes.io/instantiate"  # "manual" on kubectl create job --from

# kubelite's simulated runtime (the node agent's default): how long a container of a Pod whose
# restartPolicy is Never or OnFailure runs (a Go duration, "2s", "500ms"; default 1s) and the exit code it
# ends with (default 0). restartPolicy Always Pods ignore both and run until deleted.
ANNOTATION_SIMULATED_RUN = "kubelite.io/simulated-run"
ANNOTATION_SIMULATED_EXIT_CODE = "kubelite.io/simulated-exit-code"
