-- A table without files yet: its views exist anyway, typed from the declaration, with no rows.
CREATE OR REPLACE VIEW {{ident .View}} AS
SELECT {{range $i, $c := .Columns}}{{if $i}},
       {{end}}CAST(NULL AS {{$c.Type}}) AS {{ident $c.Name}}{{end}}{{if .Partition}},
       CAST(NULL AS DATE) AS {{ident .Partition}}{{end}}
WHERE false;
