<?js
var name = request.query.name || "visitor";
var items = ["static files", "page scripts", "websocket scripts", "settings.js"];
response.header("Cache-Control", "no-store");
?>
<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Page script demo</title><link rel="stylesheet" href="/style.css"></head>
<body>
<h1>Hello, <?= name ?>!</h1>
<p>This page is <code>web/demo.sjs</code>, rendered by the sandbox for <?= request.method ?> <?= request.path ?>.</p>
<p>Things wirehouse serves:</p>
<ul>
<?js for (var i = 0; i < items.length; i++) { ?>  <li><?= items[i] ?></li>
<?js } ?></ul>
<p>Two plus two is <?= 2 + 2 ?>. Escaped: <?= "<b>not bold</b>" ?></p>
<form method="get"><input type="text" name="name" placeholder="your name"> <button>Greet</button></form>
<p><a href="/">Back</a></p>
</body>
</html>
