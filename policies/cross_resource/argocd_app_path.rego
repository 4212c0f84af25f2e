# METADATA
# title: ArgoCD Application points at a folder that is not rendered
# description: >-
#   An ArgoCD Application whose spec.source.path (rendered/<env>/<app>) is not
#   a folder of this render syncs nothing, or fails with "app path does not
#   exist". Checked against the environment's existingPaths; skipped when the
#   gate has no such list (drydock check on loose files).
# related_resources:
#   - https://argo-cd.readthedocs.io/en/stable/user-guide/application-specification/
# custom:
#   id: DD-XRS-008
#   severity: HIGH
#   fix: Point spec.source.path at rendered/<env>/<app> for an app that exists in services/, or remove the Application.
package drydock.rules.argocd_app_path

import data.drydock.lib.k8s
import rego.v1

deny contains {"msg": msg, "doc": i, "path": source_path(d.object, n, "path")} if {
	existing := input.env.existingPaths
	rendered := {p | some p in existing}
	some i, d in input.documents
	d.object.kind == "Application"
	startswith(d.object.apiVersion, "argoproj.io/")
	some n, source in sources(d.object)
	not source.chart
	path := source.path
	not relative(path) in rendered
	msg := sprintf("Application %s source path %s is not a rendered folder (expected rendered/<env>/<app>, e.g. rendered/%s)", [k8s.name(d.object), path, example(existing)])
}

deny contains {"msg": msg, "doc": i, "path": source_path(d.object, n, "repoURL")} if {
	input.env.existingPaths
	some i, d in input.documents
	d.object.kind == "Application"
	startswith(d.object.apiVersion, "argoproj.io/")
	some n, source in sources(d.object)
	not source.chart
	not source.path
	msg := sprintf("Application %s has a git source without a path", [k8s.name(d.object)])
}

sources(app) := [app.spec.source] if app.spec.source

sources(app) := app.spec.sources if not app.spec.source

# source_path(app, n, key): JSON path of key in the n-th source (spec.source when single).
source_path(app, n, key) := ["spec", "source", key] if app.spec.source

source_path(app, n, key) := ["spec", "sources", n, key] if not app.spec.source

relative(path) := trim_suffix(trim_prefix(trim_prefix(path, "./"), "rendered/"), "/")

example(existing) := existing[0] if count(existing) > 0

example(existing) := "<env>/<app>" if count(existing) == 0
