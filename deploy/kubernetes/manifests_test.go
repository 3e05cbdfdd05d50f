package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// The config path every pod reads, and the token file Azure Workload Identity projects into a labelled pod.
const (
	configPath         = "/etc/seatlake/seatlake.yaml"
	federatedTokenFile = "/var/run/secrets/azure/tokens/azure-identity-token"
	workloadIdentity   = "azure.workload.identity/use"
	clientIDAnnotation = "azure.workload.identity/client-id"
)

// decoder decodes YAML as the API server does with strict field validation: the API types of core/v1, apps/v1 and
// batch/v1, an unknown or duplicate field, a field in the wrong case or a value of the wrong type is an error.
func decoder() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme,
		kjson.SerializerOptions{Yaml: true, Strict: true})
}

type manifest struct {
	file string
	obj  runtime.Object
}

// decodeAll decodes every document of every *.yaml file in data.
func decodeAll(files map[string][]byte) ([]manifest, error) {
	dec := decoder()
	var out []manifest
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(files[name])))
		for i := 1; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
			}
			if isEmptyDoc(doc) {
				continue
			}
			obj, _, err := dec.Decode(doc, nil, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
			}
			out = append(out, manifest{file: name, obj: obj})
		}
	}
	return out, nil
}

func isEmptyDoc(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") && l != "---" {
			return false
		}
	}
	return true
}

func readManifests(t *testing.T) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no manifests here (%v)", err)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = b
	}
	return files
}

// The decoder refuses what the API server would: a check that the test below would catch a broken manifest.
func TestDecoderIsStrict(t *testing.T) {
	job := func(spec, labels string) string {
		return "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\n" + labels + "spec:\n" + spec
	}
	cases := []struct{ name, doc string }{
		{"unknown field", job("  paralelism: 2\n", "")},
		{"field in the wrong case", job("  completionmode: Indexed\n", "")},
		{"wrong type", job("  parallelism: eight\n", "")},
		{"unquoted boolean label", job("  parallelism: 2\n", "  labels:\n    azure.workload.identity/use: true\n")},
		{"duplicate field", job("  parallelism: 2\n  parallelism: 3\n", "")},
		{"unknown kind", "apiVersion: batch/v1\nkind: Jobb\nmetadata:\n  name: x\n"},
		{"unknown container field", job("  template:\n    spec:\n      containers:\n        - name: c\n          arg: [run]\n", "")},
	}
	for _, c := range cases {
		_, err := decodeAll(map[string][]byte{"x.yaml": []byte(c.doc)})
		if err == nil {
			t.Errorf("%s: decoded without an error:\n%s", c.name, c.doc)
		}
		t.Logf("%s: %v", c.name, err)
	}
	ok := job("  parallelism: 2\n", "  labels:\n    azure.workload.identity/use: \"true\"\n")
	if _, err := decodeAll(map[string][]byte{"x.yaml": []byte(ok)}); err != nil {
		t.Errorf("a valid Job: %v", err)
	}
}

// podSpec is one pod template of the manifests, with where it comes from.
type podSpec struct {
	owner    string // kind/name
	labels   map[string]string
	spec     corev1.PodSpec
	deadline int64 // the Job's activeDeadlineSeconds, if any
}

type manifests struct {
	cronJobs    map[string]*batchv1.CronJob
	jobs        map[string]*batchv1.Job
	deployments map[string]*appsv1.Deployment
	services    map[string]*corev1.Service
	pvcs        map[string]*corev1.PersistentVolumeClaim
	configMaps  map[string]*corev1.ConfigMap
	accounts    map[string]*corev1.ServiceAccount
	pods        []podSpec
}

func load(t *testing.T) *manifests {
	t.Helper()
	all, err := decodeAll(readManifests(t))
	if err != nil {
		t.Fatal(err)
	}
	m := &manifests{
		cronJobs: map[string]*batchv1.CronJob{}, jobs: map[string]*batchv1.Job{}, deployments: map[string]*appsv1.Deployment{},
		services: map[string]*corev1.Service{}, pvcs: map[string]*corev1.PersistentVolumeClaim{},
		configMaps: map[string]*corev1.ConfigMap{}, accounts: map[string]*corev1.ServiceAccount{},
	}
	for _, x := range all {
		switch o := x.obj.(type) {
		case *batchv1.CronJob:
			m.cronJobs[o.Name] = o
			tpl := o.Spec.JobTemplate.Spec.Template
			m.pods = append(m.pods, podSpec{"CronJob/" + o.Name, tpl.Labels, tpl.Spec, deref(o.Spec.JobTemplate.Spec.ActiveDeadlineSeconds)})
		case *batchv1.Job:
			m.jobs[o.Name] = o
			m.pods = append(m.pods, podSpec{"Job/" + o.Name, o.Spec.Template.Labels, o.Spec.Template.Spec, deref(o.Spec.ActiveDeadlineSeconds)})
		case *appsv1.Deployment:
			m.deployments[o.Name] = o
			m.pods = append(m.pods, podSpec{"Deployment/" + o.Name, o.Spec.Template.Labels, o.Spec.Template.Spec, 0})
		case *corev1.Service:
			m.services[o.Name] = o
		case *corev1.PersistentVolumeClaim:
			m.pvcs[o.Name] = o
		case *corev1.ConfigMap:
			m.configMaps[o.Name] = o
		case *corev1.ServiceAccount:
			m.accounts[o.Name] = o
		case *corev1.Secret:
			t.Errorf("%s holds a Secret: secrets are created with kubectl, never committed", x.file)
		default:
			t.Errorf("%s: a %T: add its checks to this test", x.file, o)
		}
	}
	return m
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// flagValue returns the value following flag in args.
func flagValue(args []string, flag string) (string, bool) {
	i := slices.Index(args, flag)
	if i < 0 || i+1 >= len(args) {
		return "", false
	}
	return args[i+1], true
}

// The nightly ingest fans the tenants out: an Indexed Job whose pod i runs `seatlake run --shard i/N` with N the
// number of completions, the index taken from JOB_COMPLETION_INDEX (the Job controller sets it in every pod).
func TestIngestIsAnIndexedJobOfShards(t *testing.T) {
	m := load(t)
	var found int
	for name, cj := range m.cronJobs {
		js := cj.Spec.JobTemplate.Spec
		c := js.Template.Spec.Containers[0]
		if len(c.Args) == 0 || c.Args[0] != "run" {
			continue
		}
		found++
		if deref(js.CompletionMode) != batchv1.IndexedCompletion {
			t.Errorf("CronJob/%s: completionMode %q, want Indexed (JOB_COMPLETION_INDEX exists only in an Indexed Job)", name, deref(js.CompletionMode))
		}
		completions, parallelism := deref(js.Completions), deref(js.Parallelism)
		if completions < 2 || parallelism < 1 || parallelism > completions {
			t.Errorf("CronJob/%s: completions %d, parallelism %d: want several shards, at most that many pods at once", name, completions, parallelism)
		}
		shard, ok := flagValue(c.Args, "--shard")
		if want := fmt.Sprintf("$(JOB_COMPLETION_INDEX)/%d", completions); !ok || shard != want {
			t.Errorf("CronJob/%s: --shard %q, want %q (the index of the pod over the number of completions)", name, shard, want)
		}
		for _, e := range c.Env {
			if e.Name == "JOB_COMPLETION_INDEX" {
				t.Errorf("CronJob/%s sets JOB_COMPLETION_INDEX itself: leave it to the Job controller", name)
			}
		}
		if cfg, _ := flagValue(c.Args, "--config"); cfg != configPath {
			t.Errorf("CronJob/%s: --config %q, want %s", name, cfg, configPath)
		}
		if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
			t.Errorf("CronJob/%s: concurrencyPolicy %q, want Forbid: two nights at once would fetch the same windows", name, cj.Spec.ConcurrencyPolicy)
		}
		if js.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("CronJob/%s: restartPolicy %q, want Never (podFailurePolicy needs it)", name, js.Template.Spec.RestartPolicy)
		}
		if deref(js.BackoffLimitPerIndex) < 0 || js.BackoffLimitPerIndex == nil {
			t.Errorf("CronJob/%s: no backoffLimitPerIndex: one failed shard would retry (or fail) every shard", name)
		}
		if !failsJobOnExit(js.PodFailurePolicy, c.Name, 2) {
			t.Errorf("CronJob/%s: exit 2 (a config error, the same in every shard) does not fail the Job at once", name)
		}
		if js.ActiveDeadlineSeconds == nil {
			t.Errorf("CronJob/%s: no activeDeadlineSeconds: a stuck night would run into the next", name)
		}
	}
	if found != 1 {
		t.Fatalf("%d CronJobs run `seatlake run`, want 1", found)
	}
}

func failsJobOnExit(p *batchv1.PodFailurePolicy, container string, code int32) bool {
	if p == nil {
		return false
	}
	for _, r := range p.Rules {
		if r.OnExitCodes != nil && r.OnExitCodes.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn &&
			(r.OnExitCodes.ContainerName == nil || *r.OnExitCodes.ContainerName == container) &&
			slices.Contains(r.OnExitCodes.Values, code) {
			return r.Action == batchv1.PodFailurePolicyActionFailJob
		}
	}
	return false
}

// Every pod signs in with Azure Workload Identity (the pod label, a service account with the client-id annotation)
// and finds what it mounts; none runs as root or can write its image.
func TestPodsUseWorkloadIdentity(t *testing.T) {
	m := load(t)
	if len(m.pods) < 3 {
		t.Fatalf("%d pod templates, want the ingest, the maintenance and the events receiver", len(m.pods))
	}
	guid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	for _, p := range m.pods {
		if p.labels[workloadIdentity] != "true" {
			t.Errorf("%s: pod label %s is %q, want \"true\": without it no token is projected", p.owner, workloadIdentity, p.labels[workloadIdentity])
		}
		sa, ok := m.accounts[p.spec.ServiceAccountName]
		if !ok {
			t.Errorf("%s: service account %q is not in these manifests", p.owner, p.spec.ServiceAccountName)
		} else if id := sa.Annotations[clientIDAnnotation]; !guid.MatchString(id) {
			t.Errorf("ServiceAccount/%s: %s %q is not a client id", sa.Name, clientIDAnnotation, id)
		}
		sc := p.spec.SecurityContext
		if sc == nil || !deref(sc.RunAsNonRoot) || deref(sc.RunAsUser) == 0 {
			t.Errorf("%s: the pod may run as root", p.owner)
		}
		volumes := map[string]corev1.Volume{}
		for _, v := range p.spec.Volumes {
			volumes[v.Name] = v
			if v.ConfigMap != nil && m.configMaps[v.ConfigMap.Name] == nil {
				t.Errorf("%s: volume %s: ConfigMap %q is not in these manifests", p.owner, v.Name, v.ConfigMap.Name)
			}
			if v.PersistentVolumeClaim != nil && m.pvcs[v.PersistentVolumeClaim.ClaimName] == nil {
				t.Errorf("%s: volume %s: PersistentVolumeClaim %q is not in these manifests", p.owner, v.Name, v.PersistentVolumeClaim.ClaimName)
			}
			if v.Secret != nil && deref(v.Secret.DefaultMode)&0o077 != 0 {
				t.Errorf("%s: secret volume %s has mode %o: others may read it", p.owner, v.Name, deref(v.Secret.DefaultMode))
			}
		}
		for _, c := range p.spec.Containers {
			csc := c.SecurityContext
			if csc == nil || deref(csc.AllowPrivilegeEscalation) || !deref(csc.ReadOnlyRootFilesystem) {
				t.Errorf("%s: container %s: want allowPrivilegeEscalation false and a read-only root filesystem", p.owner, c.Name)
			}
			var tmp, config bool
			for _, vm := range c.VolumeMounts {
				v, ok := volumes[vm.Name]
				if !ok {
					t.Errorf("%s: container %s mounts %q, which is not a volume of the pod", p.owner, c.Name, vm.Name)
				}
				tmp = tmp || (vm.MountPath == "/tmp" && v.EmptyDir != nil)
				if vm.MountPath == filepath.Dir(configPath) && v.ConfigMap != nil {
					config = true
					if cm := m.configMaps[v.ConfigMap.Name]; cm != nil && cm.Data[filepath.Base(configPath)] == "" {
						t.Errorf("%s: ConfigMap %s has no %s", p.owner, cm.Name, filepath.Base(configPath))
					}
				}
			}
			if !tmp {
				t.Errorf("%s: container %s has a read-only root but no emptyDir at /tmp for its temporary files", p.owner, c.Name)
			}
			if cfg, _ := flagValue(c.Args, "--config"); cfg != configPath || !config {
				t.Errorf("%s: container %s: want --config %s from the ConfigMap mounted at %s", p.owner, c.Name, configPath, filepath.Dir(configPath))
			}
		}
	}
}

// No secret is written in the manifests: no Secret object, no environment value that looks like one, no key,
// password or signature in the ConfigMap, and every tenant signs in with the projected workload identity token.
func TestNoSecretsInManifests(t *testing.T) {
	m := load(t)
	secretName := regexp.MustCompile(`(?i)secret|passw|token|key|credential|connection_?string|sas`)
	secretValue := regexp.MustCompile(`(?i)AccountKey=|SharedAccessSignature|[?&]sig=|://[^/\s:@]+:[^/\s@]+@|-----BEGIN|AKIA[0-9A-Z]{16}|client-secret:|password:`)
	for _, p := range m.pods {
		for _, c := range append(p.spec.InitContainers, p.spec.Containers...) {
			for _, e := range c.Env {
				if e.Value == "" {
					continue
				}
				if secretName.MatchString(e.Name) && !strings.HasPrefix(e.Value, "/") {
					t.Errorf("%s: env %s has a literal value: take it from a file or a Secret", p.owner, e.Name)
				}
				if secretValue.MatchString(e.Value) {
					t.Errorf("%s: env %s looks like a secret", p.owner, e.Name)
				}
			}
			for _, a := range c.Args {
				if secretValue.MatchString(a) {
					t.Errorf("%s: argument %q looks like a secret", p.owner, a)
				}
			}
		}
	}
	for name, cm := range m.configMaps {
		for key, v := range cm.Data {
			if loc := secretValue.FindStringIndex(v); loc != nil {
				t.Errorf("ConfigMap/%s %s holds something like a secret: %q", name, key, v[loc[0]:loc[1]])
			}
		}
	}
	cm := m.configMaps["seatlake-config"]
	if cm == nil {
		t.Fatal("no ConfigMap seatlake-config")
	}
	var cfg struct {
		Tenants []map[string]any `yaml:"tenants"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["seatlake.yaml"]), &cfg); err != nil {
		t.Fatalf("seatlake.yaml in the ConfigMap: %v", err)
	}
	if len(cfg.Tenants) == 0 {
		t.Fatal("seatlake.yaml in the ConfigMap has no tenants")
	}
	for _, tn := range cfg.Tenants {
		if tn["federated-token-file"] != federatedTokenFile {
			t.Errorf("tenant %v: federated-token-file %v, want the workload identity token %s", tn["name"], tn["federated-token-file"], federatedTokenFile)
		}
		for _, k := range []string{"client-secret-file", "client-secret-env", "client-certificate-file"} {
			if _, ok := tn[k]; ok {
				t.Errorf("tenant %v has %s: under workload identity the tenants need no secret", tn["name"], k)
			}
		}
	}
}

// The events receiver keeps its journal on the PersistentVolumeClaim, alone (one replica, Recreate), listens where
// its Service sends traffic, and is checked by its health endpoint.
func TestEventsReceiverKeepsItsJournal(t *testing.T) {
	m := load(t)
	var found int
	for name, d := range m.deployments {
		c := d.Spec.Template.Spec.Containers[0]
		if len(c.Args) < 2 || c.Args[0] != "events" || c.Args[1] != "serve" {
			continue
		}
		found++
		if deref(d.Spec.Replicas) != 1 || d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("Deployment/%s: replicas %d, strategy %q: want 1 and Recreate, one writer of the journal", name, deref(d.Spec.Replicas), d.Spec.Strategy.Type)
		}
		dir, ok := flagValue(c.Args, "--events-dir")
		if !ok {
			t.Fatalf("Deployment/%s: no --events-dir: the journal would go under the warehouse, which is remote", name)
		}
		var mounted bool
		for _, vm := range c.VolumeMounts {
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Name != vm.Name || v.PersistentVolumeClaim == nil {
					continue
				}
				if vm.MountPath == dir && !vm.ReadOnly {
					mounted = true
				}
				if pvc := m.pvcs[v.PersistentVolumeClaim.ClaimName]; pvc != nil && !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOnce) {
					t.Errorf("PersistentVolumeClaim/%s: access modes %v, want ReadWriteOnce", pvc.Name, pvc.Spec.AccessModes)
				}
			}
		}
		if !mounted {
			t.Errorf("Deployment/%s: the journal folder %s is not a writable PersistentVolumeClaim mount: events answered 202 would be lost with the pod", name, dir)
		}
		// The Service selects this pod and sends traffic to the port events.listen names, on every address.
		var cfg struct {
			Events struct {
				Listen string `yaml:"listen"`
			} `yaml:"events"`
		}
		if err := yaml.Unmarshal([]byte(m.configMaps["seatlake-config"].Data["seatlake.yaml"]), &cfg); err != nil {
			t.Fatal(err)
		}
		host, port, _ := strings.Cut(cfg.Events.Listen, ":")
		if host != "0.0.0.0" && host != "" {
			t.Errorf("events.listen %q: in a pod the receiver must listen on 0.0.0.0, or the Service cannot reach it", cfg.Events.Listen)
		}
		var served bool
		for _, s := range m.services {
			if !selects(s.Spec.Selector, d.Spec.Template.Labels) {
				continue
			}
			for _, sp := range s.Spec.Ports {
				for _, cp := range c.Ports {
					if (sp.TargetPort.StrVal == cp.Name || int(sp.TargetPort.IntVal) == int(cp.ContainerPort)) && strconv.Itoa(int(cp.ContainerPort)) == port {
						served = true
					}
				}
			}
		}
		if !served {
			t.Errorf("Deployment/%s: no Service sends traffic to its port %s (events.listen)", name, port)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/healthz" {
			t.Errorf("Deployment/%s: no readiness probe on /healthz", name)
		}
		if d.Spec.Template.Spec.TerminationGracePeriodSeconds == nil || *d.Spec.Template.Spec.TerminationGracePeriodSeconds < 30 {
			t.Errorf("Deployment/%s: want at least 30 s after SIGTERM to commit what is journaled", name)
		}
	}
	if found != 1 {
		t.Fatalf("%d Deployments run `seatlake events serve`, want 1", found)
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// Maintenance runs as a CronJob outside the ingest window: its schedule and deadline never overlap the ingest's.
func TestMaintenanceRunsOutsideTheIngestWindow(t *testing.T) {
	m := load(t)
	var ingest, maintain *batchv1.CronJob
	for _, cj := range m.cronJobs {
		args := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args
		switch {
		case len(args) > 0 && args[0] == "run":
			ingest = cj
		case len(args) > 1 && args[0] == "warehouse" && args[1] == "maintain":
			maintain = cj
		}
	}
	if ingest == nil || maintain == nil {
		t.Fatalf("want a CronJob running `seatlake run` and one running `seatlake warehouse maintain`")
	}
	if deref(ingest.Spec.TimeZone) == "" || deref(ingest.Spec.TimeZone) != deref(maintain.Spec.TimeZone) {
		t.Fatalf("time zones %q and %q: give both CronJobs the same explicit timeZone", deref(ingest.Spec.TimeZone), deref(maintain.Spec.TimeZone))
	}
	window := func(cj *batchv1.CronJob) (start, end int) {
		f := strings.Fields(cj.Spec.Schedule)
		if len(f) != 5 || f[2] != "*" || f[3] != "*" {
			t.Fatalf("CronJob/%s: schedule %q: this test reads a daily or weekly \"M H * * D\"", cj.Name, cj.Spec.Schedule)
		}
		minute, err1 := strconv.Atoi(f[0])
		hour, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("CronJob/%s: schedule %q: want one minute and one hour", cj.Name, cj.Spec.Schedule)
		}
		d := deref(cj.Spec.JobTemplate.Spec.ActiveDeadlineSeconds)
		if d <= 0 {
			t.Fatalf("CronJob/%s has no activeDeadlineSeconds: its window has no end", cj.Name)
		}
		start = hour*60 + minute
		return start, start + int(d/60)
	}
	is, ie := window(ingest)
	ms, me := window(maintain)
	// Minutes of a day, the ingest window possibly running past midnight.
	overlaps := func(a0, a1, b0, b1 int) bool { return a0 < b1 && b0 < a1 }
	for _, shift := range []int{-1440, 0, 1440} {
		if overlaps(is, ie, ms+shift, me+shift) {
			t.Errorf("maintenance %s (%d min) overlaps the ingest %s (%d min)", maintain.Spec.Schedule, me-ms, ingest.Spec.Schedule, ie-is)
		}
	}
	if maintain.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("CronJob/%s: concurrencyPolicy %q, want Forbid", maintain.Name, maintain.Spec.ConcurrencyPolicy)
	}
}

// Every pod commits to one warehouse: the catalog and the storage of seatlake.yaml are shared (PostgreSQL, object
// storage), its warehouse key is the pod's local directory (views, caches), a writable mount in every pod.
func TestPodsShareTheCatalogAndStorage(t *testing.T) {
	m := load(t)
	var cfg struct {
		Warehouse string `yaml:"warehouse"`
		Catalog   string `yaml:"catalog"`
		Storage   string `yaml:"storage"`
	}
	if err := yaml.Unmarshal([]byte(m.configMaps["seatlake-config"].Data["seatlake.yaml"]), &cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cfg.Catalog, "postgres://") && !strings.HasPrefix(cfg.Catalog, "https://") {
		t.Errorf("catalog %q: want a catalog every pod reaches (postgres:// or an https:// REST catalog)", cfg.Catalog)
	}
	if !strings.HasPrefix(cfg.Storage, "abfss://") && !strings.HasPrefix(cfg.Storage, "s3://") {
		t.Errorf("storage %q: want object storage every pod reaches (abfss:// or s3://)", cfg.Storage)
	}
	if !filepath.IsAbs(cfg.Warehouse) || strings.Contains(cfg.Warehouse, "://") {
		t.Fatalf("warehouse %q: want the pod's local directory (the tables go to storage)", cfg.Warehouse)
	}
	for _, p := range m.pods {
		for _, c := range p.spec.Containers {
			var mounted bool
			for _, vm := range c.VolumeMounts {
				if vm.MountPath == cfg.Warehouse && !vm.ReadOnly {
					mounted = true
				}
			}
			if !mounted {
				t.Errorf("%s: container %s has no writable volume at the warehouse directory %s (the root filesystem is read-only)", p.owner, c.Name, cfg.Warehouse)
			}
		}
	}
}
