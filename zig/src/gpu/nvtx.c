// The few NVTX calls the core makes (gpu/nvtx.zig), behind a plain C ABI: the nvtx3 headers are
// header-only C full of macros that Zig's translate-c does not take well. Each call is a no-op
// unless a tool (compute-sanitizer, Nsight Systems) injected itself through NVTX_INJECTION64_PATH;
// then heaps and regions tell it which bytes of a pool's regions are live allocations.
// Built only where the CUDA toolkit's headers are (zig/build.zig); hidden from the library's exports.
#include <stddef.h>
#include <stdint.h>

#include <nvtx3/nvToolsExt.h>
#include <nvtx3/nvToolsExtMem.h>

static nvtxMemVirtualRangeDesc_t virtual_range(uint64_t address, uint64_t len) {
  nvtxMemVirtualRangeDesc_t range = {0};
  range.ptr = (const void*)(uintptr_t)address;
  range.size = (size_t)len;
  return range;
}

void* nvtx_glue_domain_create(const char* name) { return (void*)nvtxDomainCreateA(name); }

// A region of pool memory as a heap that hands out sub-allocations; NULL where no tool listens.
void* nvtx_glue_heap_register(void* domain, uint64_t base, uint64_t len, const char* name) {
  const nvtxMemVirtualRangeDesc_t range = virtual_range(base, len);
  nvtxMemHeapDesc_t desc = {0};
  desc.extCompatID = NVTX_EXT_COMPATID_MEM;
  desc.structSize = sizeof(desc);
  desc.usage = NVTX_MEM_HEAP_USAGE_TYPE_SUB_ALLOCATOR;
  desc.type = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
  desc.typeSpecificDescSize = sizeof(range);
  desc.typeSpecificDesc = &range;
  desc.messageType = NVTX_MESSAGE_TYPE_ASCII;
  desc.message.ascii = name;
  return (void*)nvtxMemHeapRegister((nvtxDomainHandle_t)domain, &desc);
}

void nvtx_glue_heap_unregister(void* domain, void* heap) { nvtxMemHeapUnregister((nvtxDomainHandle_t)domain, (nvtxMemHeapHandle_t)heap); }

// Forgets every region of the heap at once (a pool's reset).
void nvtx_glue_heap_reset(void* domain, void* heap) { nvtxMemHeapReset((nvtxDomainHandle_t)domain, (nvtxMemHeapHandle_t)heap); }

void nvtx_glue_region_register(void* domain, void* heap, uint64_t address, uint64_t len) {
  const nvtxMemVirtualRangeDesc_t range = virtual_range(address, len);
  nvtxMemRegionsRegisterBatch_t batch = {0};
  batch.extCompatID = NVTX_EXT_COMPATID_MEM;
  batch.structSize = sizeof(batch);
  batch.regionType = NVTX_MEM_TYPE_VIRTUAL_ADDRESS;
  batch.heap = (nvtxMemHeapHandle_t)heap;
  batch.regionCount = 1;
  batch.regionDescElementSize = sizeof(range);
  batch.regionDescElements = &range;
  nvtxMemRegionsRegister((nvtxDomainHandle_t)domain, &batch);
}

void nvtx_glue_region_unregister(void* domain, uint64_t address) {
  nvtxMemRegionRef_t ref;
  ref.pointer = (const void*)(uintptr_t)address;
  nvtxMemRegionsUnregisterBatch_t batch = {0};
  batch.extCompatID = NVTX_EXT_COMPATID_MEM;
  batch.structSize = sizeof(batch);
  batch.refType = NVTX_MEM_REGION_REF_TYPE_POINTER;
  batch.refCount = 1;
  batch.refElementSize = sizeof(ref);
  batch.refElements = &ref;
  nvtxMemRegionsUnregister((nvtxDomainHandle_t)domain, &batch);
}

// Names the region that starts at `address`, so the tool's reports say which allocation it is.
void nvtx_glue_region_name(void* domain, uint64_t address, const char* name) {
  nvtxMemRegionNameDesc_t label = {0};
  label.regionRefType = NVTX_MEM_REGION_REF_TYPE_POINTER;
  label.nameType = NVTX_MESSAGE_TYPE_ASCII;
  label.region.pointer = (const void*)(uintptr_t)address;
  label.name.ascii = name;
  nvtxMemRegionsNameBatch_t batch = {0};
  batch.extCompatID = NVTX_EXT_COMPATID_MEM;
  batch.structSize = sizeof(batch);
  batch.regionCount = 1;
  batch.regionElementSize = sizeof(label);
  batch.regionElements = &label;
  nvtxMemRegionsName((nvtxDomainHandle_t)domain, &batch);
}

void nvtx_glue_range_push(void* domain, const char* message) {
  nvtxEventAttributes_t attributes = {0};
  attributes.version = NVTX_VERSION;
  attributes.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
  attributes.messageType = NVTX_MESSAGE_TYPE_ASCII;
  attributes.message.ascii = message;
  nvtxDomainRangePushEx((nvtxDomainHandle_t)domain, &attributes);
}

void nvtx_glue_range_pop(void* domain) { nvtxDomainRangePop((nvtxDomainHandle_t)domain); }
