# SPDX-License-Identifier: MIT
#
# Static checks and formatting:
#   make lint          clang-tidy (checks in .clang-tidy) on the daemon,
#                      ktls/, the test library, tools and allocation-failure
#                      driver, the benchmark, the fuzz targets and the
#                      hwtest probe; any finding fails. Part of `make check`:
#                      20-35 s on the 2-core box, 11 CPU s (LINT_JOBS
#                      clang-tidy processes at once, default: every core).
#   make lint-analyze  the same files through clang's static analyzer
#                      (clang-analyzer-*: leaks, NULL and freed-memory use,
#                      garbage reads); about 3 CPU minutes. Not part of
#                      `make check` until its findings are triaged.
#   make format        rewrites every C file of the project in place with
#                      clang-format and the tree's .clang-format
#   make format-check  lists the files `make format` would change, and
#                      fails if there are any (nothing is written)
# clang-tidy is given the daemon's preprocessor flags (and the generated
# BPF skeleton), so it sees what the compiler sees. Both tools come from
# scripts/deps.sh (bookworm: clang-tidy and clang-format 14).

CLANG_TIDY   ?= clang-tidy
CLANG_FORMAT ?= clang-format
LINT_JOBS    ?= $(shell nproc 2>/dev/null || echo 2)

LINT_SRCS := $(MAIN_SRC) $(LIB_SRCS) $(TESTLIB_SRCS) $(TOOL_SRCS) \
	$(sort $(wildcard tests/allocfail/*.c bench/*.c bench/certs/*.c \
		fuzz/*.c hwtest/*.c))
LINT_FLAGS := -std=gnu11 -D_GNU_SOURCE -I. -I$(BUILD) $(PKG_CFLAGS)

FORMAT_SRCS := $(sort $(wildcard daemon/*/*.[ch] ktls/*.[ch] bpf/*.[ch] \
	tests/*/*.[ch] bench/*.[ch] bench/*/*.[ch] fuzz/*.[ch] hwtest/*.[ch]))

# The analyzer on top of .clang-tidy's checks; its style advice (struct
# padding, C11 Annex K functions, strcpy) is left out.
LINT_ANALYZE := "--checks=clang-analyzer-*,-clang-analyzer-optin.performance.Padding,-clang-analyzer-security.insecureAPI.*"

.PHONY: lint lint-analyze format format-check

# One clang-tidy per file, LINT_JOBS at a time; each file's findings are
# printed together, without clang's "N warnings generated" counts (those
# are the suppressed ones). xargs fails when any clang-tidy did.
lint lint-analyze: generated
	$(Q)command -v $(CLANG_TIDY) >/dev/null || \
		{ echo "lint: $(CLANG_TIDY) not found (make deps)" >&2; exit 1; }
	$(if $(Q),@echo "  TIDY    $(words $(LINT_SRCS)) files")
	$(Q)printf '%s\n' $(LINT_SRCS) | xargs -P $(LINT_JOBS) -n 1 sh -c \
		'out=$$($(CLANG_TIDY) --quiet $(if $(filter lint-analyze,$@),$(LINT_ANALYZE)) "$$0" -- $(LINT_FLAGS) 2>&1); \
		rc=$$?; out=$$(printf "%s\n" "$$out" | \
		grep -Ev "^[0-9]+ (warning|error)s? .*generated\.$$"); \
		[ -z "$$out" ] || printf "%s\n" "$$out"; exit $$rc' || \
		{ echo "lint: clang-tidy findings above (checks: .clang-tidy)" >&2; \
		exit 1; }

format:
	$(Q)$(CLANG_FORMAT) -i --style=file $(FORMAT_SRCS)

format-check:
	$(Q)bad=$$(for f in $(FORMAT_SRCS); do \
		$(CLANG_FORMAT) --style=file "$$f" | cmp -s - "$$f" || echo "$$f"; \
	done); [ -z "$$bad" ] || { printf '%s\n' $$bad; \
		echo "format-check: these files differ from clang-format's" \
		"output (make format)" >&2; exit 1; }

CHECK_EXTRA += lint
# The tree is formatted (make format); CI checks it stays so.
CHECK_EXTRA += format-check
