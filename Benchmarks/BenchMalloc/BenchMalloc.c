#include "BenchMalloc.h"

#include <stdlib.h>  // defines __GLIBC__ on glibc

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define BENCH_MALLOC_HAS_MALLINFO2 1
#endif

BenchMallocFigures bench_malloc_figures(void) {
  BenchMallocFigures figures = {0, 0, 0};
#if defined(BENCH_MALLOC_HAS_MALLINFO2)
  struct mallinfo2 info = mallinfo2();
  figures.available = 1;
  figures.inUse = info.uordblks + info.hblkhd;
  figures.held = info.arena + info.hblkhd;
#endif
  return figures;
}
