// Package importrules holds only a test: TestImportRules enforces the
// module's import rules (docs/design.md), which no compiler checks.
package importrules
