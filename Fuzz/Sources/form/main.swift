import ParleyFuzzing

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  FuzzTargets.form(Array(UnsafeBufferPointer(start: data, count: size)))
  return 0
}
