// mem_env.h — an in-memory Env for tests (testonly).
//
// Files live in a map keyed by path and survive File objects being closed.
// Sync is a no-op. The metadata database still uses RocksDB's default Env
// (a real directory), so tests give the store a temporary directory.
#ifndef VNAS_STORAGE_ENV_MEM_ENV_H_
#define VNAS_STORAGE_ENV_MEM_ENV_H_

#include <memory>

#include "storage/env/env.h"

namespace vnas::storage {

// Returns a new, empty in-memory Env. The caller owns it; it must outlive
// every File it opened and every store using it.
std::unique_ptr<Env> NewMemEnv();

}  // namespace vnas::storage

#endif  // VNAS_STORAGE_ENV_MEM_ENV_H_
