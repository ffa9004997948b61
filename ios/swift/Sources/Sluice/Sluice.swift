import Foundation
import SluiceFFI

/// Priority of an event: `low` is evicted first when the disk quota is full; `high` never is.
public enum SluicePriority: Int32 {
    case low = 0
    case normal = 1
    case high = 2
}

/// The connectivity the app reports (from `NWPathMonitor`).
public enum SluiceNetwork: Int32 {
    case offline = 0
    case metered = 1
    case unmetered = 2
}

/// A failed Sluice call: the status code and the library's message.
public struct SluiceError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public var description: String { "sluice error \(code): \(message)" }

    static func check(_ code: Int32) throws {
        if code < 0 {
            throw SluiceError(code: code, message: String(cString: sluice_last_error()))
        }
    }
}

/// A durable event queue that uploads when the phone's policy allows.
///
/// Record from any thread; events survive the app being killed (`recordSync`
/// returns after the commit, `record` within `commit_interval`). The instance
/// closes when released (`deinit`), or explicitly with `close()`.
///
/// Uploads go out through the app's HTTP stack: `uploader` (by default
/// `URLSessionUploader`) runs on a thread that sleeps while nothing is pending.
public final class Sluice {
    private let handle: OpaquePointer
    private let lock = NSLock()
    private var closed = false

    /// Opens (or recovers) the store in `directory` with a TOML configuration
    /// (`[mobile]` policy and `[sinks.*]` upstreams); `uploader` sends the requests.
    public init(directory: URL, config: String, uploader: SluiceUploader? = nil) throws {
        var out: OpaquePointer?
        try SluiceError.check(sluice_open(directory.path, config, &out))
        guard let handle = out else {
            throw SluiceError(code: -7, message: "sluice_open returned no handle")
        }
        self.handle = handle
        UploadLoop.start(handle, uploader ?? URLSessionUploader())
    }

    deinit {
        if !closed {
            _ = sluice_close(handle)
        }
    }

    /// Records an event; returns once it is buffered. Never waits on the network.
    public func record(_ body: Data, headers: [String: String] = [:], priority: SluicePriority = .normal) throws {
        try call(body, headers, priority, sync: false)
    }

    /// Records a UTF-8 text event.
    public func record(_ text: String, headers: [String: String] = [:], priority: SluicePriority = .normal) throws {
        try call(Data(text.utf8), headers, priority, sync: false)
    }

    /// Records an event and returns once it is committed to disk.
    public func recordSync(_ body: Data, headers: [String: String] = [:], priority: SluicePriority = .normal) throws {
        try call(body, headers, priority, sync: true)
    }

    /// Commits and uploads now if the policy allows; `true` when everything was
    /// acknowledged within `timeout` seconds.
    @discardableResult
    public func flush(timeout: TimeInterval = 10) throws -> Bool {
        let millis = UInt32(max(0, min(timeout * 1000, Double(UInt32.max))))
        let status = sluice_flush(handle, millis)
        try SluiceError.check(status)
        return status == 0
    }

    /// Reports connectivity; offline stops uploads and retries.
    public func setNetwork(_ network: SluiceNetwork) throws {
        try SluiceError.check(sluice_set_network(handle, network.rawValue))
    }

    /// Reports power; uploads may pause on low battery unless charging.
    public func setPower(charging: Bool, lowBattery: Bool) throws {
        try SluiceError.check(sluice_set_power(handle, charging, lowBattery))
    }

    /// Reports the lifecycle; going to background starts an upload within the configured bound.
    public func setForeground(_ foreground: Bool) throws {
        try SluiceError.check(sluice_set_foreground(handle, foreground))
    }

    /// Moves to a new configuration (the same TOML as `init`): a changed sink is
    /// rebuilt after its upload in flight finishes, a changed `[mobile]` policy
    /// applies at once, and everything recorded stays. Throws for invalid text or
    /// a change that needs a reopen (the store's limits, the record buffer).
    /// With an upload out at the uploader it waits for the answer (at most 5 s):
    /// call it off the main thread.
    public func setConfig(_ config: String) throws {
        try SluiceError.check(sluice_set_config(handle, config))
    }

    /// Counters: queue depth, bytes, drops, last error, last upload.
    public func stats() throws -> [String: Any] {
        guard let raw = sluice_stats_json(handle) else {
            throw SluiceError(code: -2, message: String(cString: sluice_last_error()))
        }
        defer { sluice_string_free(raw) }
        let json = Data(String(cString: raw).utf8)
        return (try JSONSerialization.jsonObject(with: json) as? [String: Any]) ?? [:]
    }

    /// Commits, stops uploading and releases the store. Later calls throw.
    public func close() throws {
        lock.lock()
        defer { lock.unlock() }
        if closed {
            throw SluiceError(code: -2, message: "already closed")
        }
        closed = true
        try SluiceError.check(sluice_close(handle))
    }

    private func call(_ body: Data, _ headers: [String: String], _ priority: SluicePriority, sync: Bool) throws {
        // C strings for the headers live until the call returns.
        let keys = headers.keys.map { strdup($0) }
        let values = headers.values.map { strdup($0) }
        defer {
            keys.forEach { free($0) }
            values.forEach { free($0) }
        }
        var pairs = zip(keys, values).map { SluiceHeader(key: UnsafePointer($0), value: UnsafePointer($1)) }
        let status: Int32 = body.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Int32 in
            let bytes = buffer.bindMemory(to: UInt8.self).baseAddress
            return pairs.withUnsafeMutableBufferPointer { list -> Int32 in
                if sync {
                    return sluice_record_sync(handle, bytes, body.count, list.baseAddress, list.count, priority.rawValue)
                }
                return sluice_record(handle, bytes, body.count, list.baseAddress, list.count, priority.rawValue)
            }
        }
        try SluiceError.check(status)
    }
}
