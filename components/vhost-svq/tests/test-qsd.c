#include "harness.h"
Test(qsd, placeholder) { cr_assert(1); }
