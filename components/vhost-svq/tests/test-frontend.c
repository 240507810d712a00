#include "harness.h"
Test(frontend, placeholder) { cr_assert(1); }
