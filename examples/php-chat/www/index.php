<?php
// Shows what PHP received (every value escaped) and sets a cookie.
$visits = (int)($_COOKIE["visits"] ?? 0) + 1;
setcookie("visits", (string)$visits, ["path" => "/", "httponly" => true, "samesite" => "Lax"]);
header("Content-Type: text/html; charset=utf-8");

function e($v): string {
    return htmlspecialchars(is_scalar($v) ? (string)$v : json_encode($v), ENT_QUOTES | ENT_SUBSTITUTE, "UTF-8");
}
function table(string $title, array $rows): void {
    echo "<h2>", e($title), "</h2>\n<table>\n";
    if (!$rows) echo "<tr><td><i>(empty)</i></td></tr>\n";
    foreach ($rows as $k => $v) echo "<tr><th>", e($k), "</th><td>", e($v), "</td></tr>\n";
    echo "</table>\n";
}
$keys = ["REQUEST_METHOD", "REQUEST_URI", "QUERY_STRING", "SCRIPT_NAME", "SERVER_NAME", "SERVER_PORT",
    "SERVER_PROTOCOL", "SERVER_SOFTWARE", "GATEWAY_INTERFACE", "REMOTE_ADDR", "REMOTE_PORT", "HTTP_USER_AGENT"];
$server = [];
foreach ($keys as $k) if (isset($_SERVER[$k])) $server[$k] = $_SERVER[$k];
?><!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>php-chat: request data</title>
<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}th{text-align:left;padding-right:1em}</style>
</head>
<body>
<h1>PHP on the wirehouse port</h1>
<p>Visit number <?= e($visits) ?> (cookie <code>visits</code>, set by this page). PHP <?= e(PHP_VERSION) ?>, <?= e(PHP_SAPI) ?>.</p>
<p><a href="/chat.html">Open the websocket chat</a> · <a href="/index.php?hello=world&amp;n=1">try a query</a></p>
<form method="post" action="/index.php"><input name="field" placeholder="POST a field"> <button>POST</button></form>
<?php
table('$_GET', $_GET);
table('$_POST', $_POST);
table('$_COOKIE', $_COOKIE);
table('$_SERVER (selected)', $server);
?>
</body>
</html>
