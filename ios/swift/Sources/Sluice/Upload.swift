import Foundation
import SluiceFFI

/// One request Sluice wants sent: POST `body` to `url` with `headers`, all as given
/// (`Content-Type`, `Content-Encoding`, `X-Sluice-Batch`, `User-Agent`, auth, the
/// sink's extras). Give up after `timeout` and answer `.failed`.
public struct SluiceUploadRequest {
    public let url: String
    public let headers: [(String, String)]
    public let body: Data
    public let timeout: TimeInterval
    let id: UInt64

    init(_ task: SluiceUploadTask) {
        id = task.id
        url = String(cString: task.url)
        headers = (0..<task.n_headers).map { index in
            let header = task.headers[index]
            return (String(cString: header.key), String(cString: header.value))
        }
        body = task.body_len == 0 ? Data() : Data(bytes: task.body, count: task.body_len)
        timeout = TimeInterval(task.timeout_ms) / 1000
    }
}

/// What became of a request. Sluice classifies an answer as it would its own
/// client's (2xx delivered, 429 and 5xx retried, 413 split, other 4xx quarantined);
/// `.failed` (DNS, connection, TLS, timeout) is retried with backoff.
public enum SluiceUploadResponse {
    case answered(status: Int, retryAfter: String?, body: Data)
    case failed(String)
}

/// Sends Sluice's requests with the app's HTTP stack. Called on Sluice's uploader
/// thread, one request at a time; it may block until the answer is in.
public protocol SluiceUploader: AnyObject {
    func upload(_ request: SluiceUploadRequest) -> SluiceUploadResponse
}

/// The default uploader: `URLSession`, with the system's proxy, trust store and
/// App Transport Security rules. Redirects are refused (a POST turned into a GET
/// would look delivered), and each request is bounded as a whole by its timeout.
/// A session of your own (to pin certificates) must refuse redirects too: give
/// it a `SluiceRedirectRefuser` as its delegate, or one that does the same.
public final class URLSessionUploader: SluiceUploader {
    private let session: URLSession
    private let ownsSession: Bool

    public init() {
        session = URLSession(configuration: .ephemeral, delegate: SluiceRedirectRefuser(), delegateQueue: nil)
        ownsSession = true
    }

    public init(session: URLSession) {
        self.session = session
        ownsSession = false
    }

    deinit {
        if ownsSession {
            session.finishTasksAndInvalidate()
        }
    }

    public func upload(_ request: SluiceUploadRequest) -> SluiceUploadResponse {
        guard let url = URL(string: request.url) else {
            return .failed("not a URL: \(request.url)")
        }
        var post = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: request.timeout)
        post.httpMethod = "POST"
        for (key, value) in request.headers {
            post.setValue(value, forHTTPHeaderField: key)
        }
        let done = DispatchSemaphore(value: 0)
        let result = ResponseBox()
        let task = session.uploadTask(with: post, from: request.body) { data, reply, error in
            if let error = error {
                result.set(.failed("\(request.url): \(error.localizedDescription)"))
            } else if let http = reply as? HTTPURLResponse {
                let retryAfter = http.value(forHTTPHeaderField: "Retry-After")
                result.set(.answered(status: http.statusCode, retryAfter: retryAfter, body: data ?? Data()))
            }
            done.signal()
        }
        task.resume()
        // timeoutInterval bounds the time between bytes; this bounds the whole request.
        if done.wait(timeout: .now() + request.timeout) == .timedOut {
            task.cancel()
            return .failed("\(request.url): no answer within \(request.timeout) s")
        }
        return result.get()
    }
}

/// A session delegate that refuses every redirect: the 3xx itself is the answer.
public final class SluiceRedirectRefuser: NSObject, URLSessionTaskDelegate {
    public func urlSession(
        _ session: URLSession,
        task: URLSessionTask,
        willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest,
        completionHandler: @escaping (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}

/// The answer handed from URLSession's queue to the uploader thread.
private final class ResponseBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value = SluiceUploadResponse.failed("no answer from URLSession")

    func set(_ response: SluiceUploadResponse) {
        lock.lock()
        value = response
        lock.unlock()
    }

    func get() -> SluiceUploadResponse {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}

/// The uploader loop of one instance: sleeps in `sluice_upload_take` while nothing
/// is pending, ends when the handle closes. It holds the handle, never the `Sluice`.
enum UploadLoop {
    static func start(_ handle: OpaquePointer, _ uploader: SluiceUploader) {
        let thread = Thread {
            run(handle, uploader)
        }
        thread.name = "sluice-uploader"
        thread.start()
    }

    private static func run(_ handle: OpaquePointer, _ uploader: SluiceUploader) {
        while true {
            var task: UnsafeMutablePointer<SluiceUploadTask>?
            let status = sluice_upload_take(handle, -1, &task)
            if status == SLUICE_ERR_CLOSED || status == SLUICE_ERR_ARGUMENT {
                return
            }
            guard status == SLUICE_OK, let taken = task else {
                // A fault inside Sluice (caught at the boundary): the loop must not die of it.
                Thread.sleep(forTimeInterval: 1)
                continue
            }
            let request = SluiceUploadRequest(taken.pointee)
            sluice_upload_task_free(taken)
            switch uploader.upload(request) {
            case let .answered(code, retryAfter, body):
                // The core decides what an answer means (a status no server gives is no answer).
                let clamped = Int32(clamping: code)
                _ = body.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Int32 in
                    let bytes = buffer.bindMemory(to: UInt8.self).baseAddress
                    return sluice_upload_finish(handle, request.id, clamped, retryAfter, bytes, body.count, nil)
                }
            case let .failed(reason):
                _ = sluice_upload_finish(handle, request.id, 0, nil, nil, 0, reason)
            }
        }
    }
}
