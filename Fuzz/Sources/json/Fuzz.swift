import FuzzDriver
import ParleyFuzzing

/// libFuzzer's entry: one input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  FuzzTargets.json(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
  return 0
}

/// The executable's entry (SwiftPM calls an executable's main `<module>_main`): hands over to
/// libFuzzer's driver.
@_cdecl("fuzz_json_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?)
  -> CInt
{
  parley_fuzz_run(argc, argv) { data, size in fuzzOne(data, size) }
}
