# Set-up and meson, nothing else. Each target installs what it needs first.
BUILD ?= build
MESON_OPTS ?=

.PHONY: all setup build install test demo bench clean

all: build

setup:
	bash scripts/setup.sh

$(BUILD)/build.ninja: | setup
	meson setup $(BUILD) $(MESON_OPTS)

build: setup $(BUILD)/build.ninja
	ninja -C $(BUILD)

# make install [DESTDIR=/staging] [PREFIX=/usr]: PREFIX reconfigures the tree.
install: build
	$(if $(PREFIX),meson configure $(BUILD) -Dprefix=$(PREFIX) && ninja -C $(BUILD),true)
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir $(DESTDIR))

test: build
	bash scripts/test.sh $(BUILD)

demo: build
	bash scripts/demo.sh $(BUILD)

# make bench: the full suite (about a minute on a quiet machine); make bench QUICK=1: about 20 s.
bench: build
	QUICK="$(QUICK)" bash scripts/bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-fuzz
