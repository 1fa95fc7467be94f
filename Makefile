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

clean:
	rm -rf $(BUILD) $(BUILD)-asan
