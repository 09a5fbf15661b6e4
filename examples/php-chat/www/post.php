<?php
// Takes a posted message and publishes it to the websocket topic "chat" through the
// server's internal endpoint (URL handed in by the example as CHAT_PUBLISH_URL).
header("Content-Type: application/json");
if ($_SERVER["REQUEST_METHOD"] !== "POST") {
    http_response_code(405);
    header("Allow: POST");
    echo json_encode(["error" => "POST a message"]);
    exit;
}
$text = trim((string)($_POST["message"] ?? ""));
$from = trim((string)($_POST["name"] ?? $_COOKIE["name"] ?? "")) ?: "anonymous";
if ($text === "" || strlen($text) > 4000) {
    http_response_code(400);
    echo json_encode(["error" => "message required (at most 4000 bytes)"]);
    exit;
}
$url = $_SERVER["CHAT_PUBLISH_URL"] ?? getenv("CHAT_PUBLISH_URL");
if (!$url) {
    $url = "http://127.0.0.1:" . (int)$_SERVER["SERVER_PORT"] . "/internal/publish";
}
$ctx = stream_context_create(["http" => [
    "method" => "POST",
    "header" => "Content-Type: application/json\r\n",
    "content" => json_encode(["from" => $from, "text" => $text]),
    "timeout" => 5,
    "ignore_errors" => true,
]]);
$answer = @file_get_contents($url, false, $ctx);
$status = 0;
foreach ($http_response_header ?? [] as $line) {
    if (preg_match('#^HTTP/\S+ (\d{3})#', $line, $m)) $status = (int)$m[1];
}
setcookie("name", $from, ["path" => "/", "samesite" => "Lax"]);
if ($status !== 204) {
    http_response_code(502);
    echo json_encode(["error" => "publish failed", "status" => $status]);
    exit;
}
echo json_encode(["ok" => true, "from" => $from, "text" => $text]);
