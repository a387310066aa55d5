// A stand-in NVTX tool for the core's unit tests only (zig build test; never in the library): it
// attaches to the memory extension as a statically linked injection and records what the core
// tells it, so gpu/nvtx.zig's tests can check the heaps and regions a pool registers without
// compute-sanitizer. `answering` 0 makes it act as no tool: heap registration then returns NULL.
#define NVTX_NO_IMPL
#include <stdint.h>
#include <string.h>

#include <nvtx3/nvToolsExtMem.h>

struct nvtx_fake_tool {
  int answering;
  int heaps, heaps_unregistered, heap_resets, regions, regions_unregistered, names;
  int bad_descriptors;
  uint64_t heap_base, heap_len;
  const void* last_heap;
  const void* region_heap;
  uint64_t region_ptr, region_len, unregistered_ptr, named_ptr;
  char heap_name[128];
  char region_name[128];
};

struct nvtx_fake_tool nvtx_fake_tool;

static void copy_name(char* out, const char* name) {
  strncpy(out, name ? name : "", 127);
  out[127] = 0;
}

static nvtxMemHeapHandle_t NVTX_API heap_register(nvtxDomainHandle_t domain, nvtxMemHeapDesc_t const* desc) {
  (void)domain;
  if (!nvtx_fake_tool.answering) return NULL;
  if (desc->extCompatID != NVTX_EXT_COMPATID_MEM || desc->structSize != sizeof(*desc) || desc->usage != NVTX_MEM_HEAP_USAGE_TYPE_SUB_ALLOCATOR ||
      desc->type != NVTX_MEM_TYPE_VIRTUAL_ADDRESS || desc->typeSpecificDescSize != sizeof(nvtxMemVirtualRangeDesc_t) || desc->messageType != NVTX_MESSAGE_TYPE_ASCII)
    nvtx_fake_tool.bad_descriptors++;
  const nvtxMemVirtualRangeDesc_t* range = (const nvtxMemVirtualRangeDesc_t*)desc->typeSpecificDesc;
  nvtx_fake_tool.heap_base = (uint64_t)(uintptr_t)range->ptr;
  nvtx_fake_tool.heap_len = range->size;
  copy_name(nvtx_fake_tool.heap_name, desc->message.ascii);
  nvtx_fake_tool.heaps++;
  nvtx_fake_tool.last_heap = (const void*)(uintptr_t)(0x1000 * nvtx_fake_tool.heaps);
  return (nvtxMemHeapHandle_t)nvtx_fake_tool.last_heap;
}

static void NVTX_API heap_unregister(nvtxDomainHandle_t domain, nvtxMemHeapHandle_t heap) {
  (void)domain;
  (void)heap;
  nvtx_fake_tool.heaps_unregistered++;
}

static void NVTX_API heap_reset(nvtxDomainHandle_t domain, nvtxMemHeapHandle_t heap) {
  (void)domain;
  (void)heap;
  nvtx_fake_tool.heap_resets++;
}

static void NVTX_API regions_register(nvtxDomainHandle_t domain, nvtxMemRegionsRegisterBatch_t const* batch) {
  (void)domain;
  if (batch->extCompatID != NVTX_EXT_COMPATID_MEM || batch->structSize != sizeof(*batch) || batch->regionType != NVTX_MEM_TYPE_VIRTUAL_ADDRESS ||
      batch->regionCount != 1 || batch->regionDescElementSize != sizeof(nvtxMemVirtualRangeDesc_t))
    nvtx_fake_tool.bad_descriptors++;
  const nvtxMemVirtualRangeDesc_t* range = (const nvtxMemVirtualRangeDesc_t*)batch->regionDescElements;
  nvtx_fake_tool.region_heap = batch->heap;
  nvtx_fake_tool.region_ptr = (uint64_t)(uintptr_t)range->ptr;
  nvtx_fake_tool.region_len = range->size;
  nvtx_fake_tool.regions++;
}

static void NVTX_API regions_unregister(nvtxDomainHandle_t domain, nvtxMemRegionsUnregisterBatch_t const* batch) {
  (void)domain;
  if (batch->extCompatID != NVTX_EXT_COMPATID_MEM || batch->structSize != sizeof(*batch) || batch->refType != NVTX_MEM_REGION_REF_TYPE_POINTER ||
      batch->refCount != 1 || batch->refElementSize != sizeof(nvtxMemRegionRef_t))
    nvtx_fake_tool.bad_descriptors++;
  nvtx_fake_tool.unregistered_ptr = (uint64_t)(uintptr_t)batch->refElements[0].pointer;
  nvtx_fake_tool.regions_unregistered++;
}

static void NVTX_API regions_name(nvtxDomainHandle_t domain, nvtxMemRegionsNameBatch_t const* batch) {
  (void)domain;
  if (batch->extCompatID != NVTX_EXT_COMPATID_MEM || batch->structSize != sizeof(*batch) || batch->regionCount != 1 ||
      batch->regionElementSize != sizeof(nvtxMemRegionNameDesc_t) || batch->regionElements[0].regionRefType != NVTX_MEM_REGION_REF_TYPE_POINTER ||
      batch->regionElements[0].nameType != NVTX_MESSAGE_TYPE_ASCII)
    nvtx_fake_tool.bad_descriptors++;
  nvtx_fake_tool.named_ptr = (uint64_t)(uintptr_t)batch->regionElements[0].region.pointer;
  copy_name(nvtx_fake_tool.region_name, batch->regionElements[0].name.ascii);
  nvtx_fake_tool.names++;
}

static int NVTX_API initialize(nvtxExtModuleInfo_t* info) {
  if (info->moduleId != NVTX_EXT_MODULEID_MEM) return 1;
  intptr_t* slots = info->segments[0].functionSlots;
  slots[NVTX3EXT_CBID_nvtxMemHeapRegister] = (intptr_t)heap_register;
  slots[NVTX3EXT_CBID_nvtxMemHeapUnregister] = (intptr_t)heap_unregister;
  slots[NVTX3EXT_CBID_nvtxMemHeapReset] = (intptr_t)heap_reset;
  slots[NVTX3EXT_CBID_nvtxMemRegionsRegister] = (intptr_t)regions_register;
  slots[NVTX3EXT_CBID_nvtxMemRegionsUnregister] = (intptr_t)regions_unregister;
  slots[NVTX3EXT_CBID_nvtxMemRegionsName] = (intptr_t)regions_name;
  return 1;
}

// Found by the NVTX loader when no NVTX_INJECTION64_PATH names a tool (it overrides nvtx.c's weak one).
NvtxExtInitializeInjectionFunc_t InitializeInjectionNvtxExtension_fnptr = initialize;
