#ifndef BENCH_MALLOC_H
#define BENCH_MALLOC_H

#include <stddef.h>

/// What the C allocator holds, from glibc's `mallinfo2()`.
typedef struct {
  /// 1 on glibc 2.33 or later, which has `mallinfo2`; 0 elsewhere, and the sizes are 0.
  int available;
  /// Bytes in blocks the program has allocated and not freed (`uordblks + hblkhd`).
  size_t inUse;
  /// Bytes the allocator has from the system (`arena + hblkhd`): what is in use, plus what was
  /// freed and kept for later allocations in each thread's arena.
  size_t held;
} BenchMallocFigures;

/// The allocator's figures now (glibc walks its arenas under their locks: microseconds).
BenchMallocFigures bench_malloc_figures(void);

#endif
