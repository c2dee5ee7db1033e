// helm-render: renders a Helm chart offline the way `helm template` does, for
// the suite's chart checks (there is no helm binary in Debian 12). It uses
// Go's text/template with sprig v3 (Debian's golang-github-masterminds-sprig-dev,
// the library Helm uses) and reproduces what Helm's engine (pkg/engine) and
// chartutil add around them:
//   - functions include, tpl, required, fail, toYaml, fromYaml, fromYamlArray,
//     toJson, fromJson, fromJsonArray, lookup (empty, as in `helm template`);
//     sprig's env and expandenv removed;
//   - missingkey=zero and "<no value>" removed from the output;
//   - .Values (values.yaml coalesced with each -f file in order, null deleting
//     a key), .Release, .Chart (Chart.yaml), .Capabilities (KubeVersion and
//     APIVersions.Has, built-in group versions plus --api-versions), .Template;
//   - files starting with "_" are parsed but not rendered, NOTES.txt is
//     rendered apart, whitespace-only outputs are dropped, every document
//     must parse as YAML;
//   - Chart.yaml's kubeVersion constraint is checked against --kube-version.
//
// Not reproduced: subcharts, .Files, --set; values.schema.json is checked by
// helm_render_checks.mjs on the coalesced values (--values-out). Tested
// against a fixture chart with a known output (tests/deploy/testdata/render-chart).
//
// Usage:
//
//	helm-render --chart DIR [--release NAME] [--namespace NS] [-f VALUES]...
//	  [--api-versions GROUP/VERSION]... [--kube-version vX.Y.Z]
//	  [--with-template FILE]... --out FILE [--notes-out FILE] [--values-out FILE]
//
// --with-template adds a file as if it were in templates/ (to render the
// aims chart's sidecar template from a fixture chart that uses it).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/semver/v3"
	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// Metadata is Chart.yaml as Helm exposes it under .Chart.
type Metadata struct {
	Name         string            `json:"name,omitempty"`
	Home         string            `json:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty"`
	Version      string            `json:"version,omitempty"`
	Description  string            `json:"description,omitempty"`
	Keywords     []string          `json:"keywords,omitempty"`
	Icon         string            `json:"icon,omitempty"`
	APIVersion   string            `json:"apiVersion,omitempty"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	KubeVersion  string            `json:"kubeVersion,omitempty"`
	Type         string            `json:"type,omitempty"`
	Maintainers  []interface{}     `json:"maintainers,omitempty"`
	Dependencies []interface{}     `json:"dependencies,omitempty"`
}

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

// Has is true for "group/version" or "group/version/Kind" in the set.
func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (k KubeVersion) String() string     { return k.Version }
func (k KubeVersion) GitVersion() string { return k.Version }

// Capabilities is .Capabilities.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
}

// Built-in group versions of Kubernetes 1.29 (what `helm template` offers
// without a cluster); CRD groups come from --api-versions.
var builtinAPIVersions = []string{
	"v1", "admissionregistration.k8s.io/v1", "apiextensions.k8s.io/v1", "apiregistration.k8s.io/v1",
	"apps/v1", "authentication.k8s.io/v1", "authorization.k8s.io/v1", "autoscaling/v1", "autoscaling/v2",
	"batch/v1", "certificates.k8s.io/v1", "coordination.k8s.io/v1", "discovery.k8s.io/v1",
	"events.k8s.io/v1", "flowcontrol.apiserver.k8s.io/v1beta3", "networking.k8s.io/v1", "node.k8s.io/v1",
	"policy/v1", "rbac.authorization.k8s.io/v1", "scheduling.k8s.io/v1", "storage.k8s.io/v1",
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromYAMLArray(s string) []interface{} {
	a := []interface{}{}
	if err := yaml.Unmarshal([]byte(s), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func fromJSONArray(s string) []interface{} {
	a := []interface{}{}
	if err := json.Unmarshal([]byte(s), &a); err != nil {
		a = []interface{}{err.Error()}
	}
	return a
}

// funcMap is Helm's: sprig's text functions without env access, plus the
// engine's own, bound to the template set t.
func funcMap(t *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = toYAML
	f["fromYaml"] = fromYAML
	f["fromYamlArray"] = fromYAMLArray
	f["toJson"] = toJSON
	f["fromJson"] = fromJSON
	f["fromJsonArray"] = fromJSONArray
	f["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	depth := map[string]int{}
	f["include"] = func(name string, data interface{}) (string, error) {
		if depth[name] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		depth[name]++
		defer func() { depth[name]-- }()
		var buf strings.Builder
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		c, err := t.Clone()
		if err != nil {
			return "", err
		}
		c.Funcs(funcMap(c))
		if _, err := c.New("tpl").Parse(text); err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", text, err)
		}
		var buf strings.Builder
		if err := c.ExecuteTemplate(&buf, "tpl", data); err != nil {
			return "", fmt.Errorf("error calling tpl: %w", err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	f["required"] = func(msg string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, errors.New(msg)
		}
		if s, ok := val.(string); ok && s == "" {
			return val, errors.New(msg)
		}
		return val, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	return f
}

// coalesce merges override into base as Helm's -f does: maps recursively, any
// other value replaced, null deleting the key.
func coalesce(base, override map[string]interface{}) map[string]interface{} {
	for k, v := range override {
		if v == nil {
			delete(base, k)
			continue
		}
		bm, bok := base[k].(map[string]interface{})
		om, ook := v.(map[string]interface{})
		if bok && ook {
			base[k] = coalesce(bm, om)
		} else {
			base[k] = v
		}
	}
	return base
}

func readYAMLMap(file string) (map[string]interface{}, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return m, nil
}

func kubeVersion(v string) (KubeVersion, error) {
	sv, err := semver.NewVersion(v)
	if err != nil {
		return KubeVersion{}, fmt.Errorf("--kube-version %q: %w", v, err)
	}
	return KubeVersion{Version: "v" + sv.String(), Major: fmt.Sprint(sv.Major()), Minor: fmt.Sprint(sv.Minor())}, nil
}

type options struct {
	chart, release, namespace, kube, out, notesOut, valuesOut string
	values, apis, extra                                       multi
}

func render(o options) error {
	var md Metadata
	data, err := os.ReadFile(filepath.Join(o.chart, "Chart.yaml"))
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, &md); err != nil {
		return fmt.Errorf("Chart.yaml: %w", err)
	}
	kv, err := kubeVersion(o.kube)
	if err != nil {
		return err
	}
	if md.KubeVersion != "" {
		c, err := semver.NewConstraint(md.KubeVersion)
		sv, _ := semver.NewVersion(kv.Version)
		if err != nil || !c.Check(sv) {
			return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", md.KubeVersion, kv.Version)
		}
	}
	values, err := readYAMLMap(filepath.Join(o.chart, "values.yaml"))
	if err != nil {
		return err
	}
	for _, f := range o.values {
		user, err := readYAMLMap(f)
		if err != nil {
			return err
		}
		values = coalesce(values, user)
	}
	if o.valuesOut != "" {
		if err := os.WriteFile(o.valuesOut, []byte(toJSON(values)+"\n"), 0o644); err != nil {
			return err
		}
	}
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": o.release, "Namespace": o.namespace, "Revision": 1,
			"IsInstall": true, "IsUpgrade": false, "Service": "Helm",
		},
		"Chart":        md,
		"Capabilities": Capabilities{KubeVersion: kv, APIVersions: append(VersionSet(builtinAPIVersions), o.apis...)},
	}

	// Every file under templates/, named <chart>/templates/<path> as in Helm.
	var names []string
	sources := map[string]string{}
	root := filepath.Join(o.chart, "templates")
	err = filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := path.Join(md.Name, "templates", filepath.ToSlash(rel))
		b, err := os.ReadFile(p)
		sources[name] = string(b)
		names = append(names, name)
		return err
	})
	if err != nil {
		return err
	}
	for _, f := range o.extra {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		name := path.Join(md.Name, "templates", filepath.Base(f))
		if _, dup := sources[name]; !dup {
			names = append(names, name)
		}
		sources[name] = string(b)
	}
	sort.Strings(names)
	t := template.New("gotpl").Option("missingkey=zero")
	t.Funcs(funcMap(t))
	for _, n := range names {
		if _, err := t.New(n).Parse(sources[n]); err != nil {
			return fmt.Errorf("parse error in %s: %w", n, err)
		}
	}
	var manifest, notes strings.Builder
	for _, n := range names {
		base := path.Base(n)
		if strings.HasPrefix(base, "_") {
			continue
		}
		top["Template"] = map[string]interface{}{"Name": n, "BasePath": path.Join(md.Name, "templates")}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, n, top); err != nil {
			return fmt.Errorf("execution error in %s: %w", n, err)
		}
		out := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" {
			notes.WriteString(out)
			continue
		}
		if strings.TrimSpace(out) == "" {
			continue
		}
		for _, doc := range strings.Split(out, "\n---") {
			var head map[string]interface{}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				return fmt.Errorf("YAML parse error on %s: %w", n, err)
			}
			if strings.TrimSpace(doc) == "" || head == nil {
				continue
			}
			fmt.Fprintf(&manifest, "---\n# Source: %s\n%s\n", n, strings.Trim(doc, "\n"))
		}
	}
	if err := os.WriteFile(o.out, []byte(manifest.String()), 0o644); err != nil {
		return err
	}
	if o.notesOut != "" {
		return os.WriteFile(o.notesOut, []byte(notes.String()), 0o644)
	}
	return nil
}

func main() {
	var o options
	flag.StringVar(&o.chart, "chart", "", "chart directory")
	flag.StringVar(&o.release, "release", "aims", "release name")
	flag.StringVar(&o.namespace, "namespace", "aims", "release namespace")
	flag.StringVar(&o.kube, "kube-version", "v1.29.0", "Kubernetes version of .Capabilities")
	flag.StringVar(&o.out, "out", "", "file for the rendered manifests")
	flag.StringVar(&o.notesOut, "notes-out", "", "file for the rendered NOTES.txt")
	flag.StringVar(&o.valuesOut, "values-out", "", "file for the coalesced values (JSON)")
	flag.Var(&o.values, "f", "values file (repeatable, later ones win)")
	flag.Var(&o.apis, "api-versions", "extra API version of .Capabilities.APIVersions (repeatable)")
	flag.Var(&o.extra, "with-template", "another template file, as if in the chart's templates/ (repeatable)")
	flag.Parse()
	if o.chart == "" || o.out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := render(o); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}
