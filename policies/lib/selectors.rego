# Shared helpers: Kubernetes label selectors.
package drydock.lib.selectors

import rego.v1

# label_selector_matches(sel, labels): a metav1.LabelSelector (matchLabels and
# matchExpressions, all ANDed) matches labels. An empty selector matches all.
label_selector_matches(sel, labels) if {
	every k, v in object.get(sel, "matchLabels", {}) {
		labels[k] == v
	}
	every e in object.get(sel, "matchExpressions", []) {
		expression_holds(e, labels)
	}
}

expression_holds(e, labels) if {
	e.operator == "In"
	labels[e.key] in e.values
}

expression_holds(e, labels) if {
	e.operator == "NotIn"
	not labels[e.key] in e.values
}

expression_holds(e, labels) if {
	e.operator == "Exists"
	e.key in object.keys(labels)
}

expression_holds(e, labels) if {
	e.operator == "DoesNotExist"
	not e.key in object.keys(labels)
}

# map_matches(sel, labels): a plain map selector (Service spec.selector).
map_matches(sel, labels) if {
	every k, v in sel {
		labels[k] == v
	}
}

# is_empty_selector(sel): selects every pod of the namespace.
is_empty_selector(sel) if {
	count(object.get(sel, "matchLabels", {})) == 0
	count(object.get(sel, "matchExpressions", [])) == 0
}
