CREATE OR REPLACE VIEW {{.View}} AS
SELECT {{range $i, $c := .Columns}}{{if $i}}, {{end}}CAST(NULL AS {{$c.Type}}) AS {{$c.Name}}{{end}}
WHERE false;
