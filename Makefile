# Set-up and meson, nothing else. Each target installs what it needs first.
BUILD ?= build
MESON_OPTS ?=

.PHONY: all setup build test demo bench clean

all: build

setup:
	bash scripts/setup.sh

$(BUILD)/build.ninja: | setup
	meson setup $(BUILD) $(MESON_OPTS)

build: setup $(BUILD)/build.ninja
	ninja -C $(BUILD)

test: build
	bash scripts/test.sh $(BUILD)

demo: build
	bash scripts/demo.sh $(BUILD)

# make bench: the full suite (about 2 minutes); make bench QUICK=1: under a minute.
bench: build
	QUICK="$(QUICK)" bash scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan
