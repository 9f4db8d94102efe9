#ifndef PARLEY_FUZZ_DRIVER_H
#define PARLEY_FUZZ_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer with `callback` as the target (LLVMFuzzerRunDriver), for executables whose
/// `main` SwiftPM renames.
int parley_fuzz_run(int argc, char **argv, int (*callback)(const uint8_t *data, size_t size));

#endif
