// Package kubernetes holds seatlake's Kubernetes manifests (the *.yaml files beside this one, applied with
// `kubectl apply -f deploy/kubernetes/`) and the test that decodes each strictly with the Kubernetes API types,
// offline: the sharded nightly ingest (an Indexed Job under a CronJob), the events receiver (a Deployment with its
// journal on a PersistentVolumeClaim, and its Service), the warehouse maintenance CronJob, the ConfigMap holding
// seatlake.yaml and the workload identity ServiceAccount. There is no Go code to import here.
package kubernetes
