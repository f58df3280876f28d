//! The credit-card CSV loader: bad rows are reported with their line number, good rows kept.

use descent::lab::credit_card::{CsvError, columns, from_reader, load};

fn header() -> String {
    columns().join(",")
}

fn row(time: f32, class: &str) -> String {
    let mut fields = vec![time.to_string()];
    fields.extend((1..=28).map(|i| format!("{:.2}", i as f32 / 10.0)));
    fields.push("12.50".into());
    fields.push(class.into());
    fields.join(",")
}

#[test]
fn good_rows_are_read() {
    let text = format!("{}\n{}\n{}\n", header(), row(0.0, "0"), row(1.0, "\"1\""));
    let cc = from_reader(text.as_bytes()).expect("loads");
    assert!(cc.bad_rows.is_empty());
    assert_eq!(cc.data.len(), 2);
    assert_eq!(cc.data.features, 30);
    assert_eq!(cc.data.y, vec![0.0, 1.0]);
    assert_eq!(cc.data.row(1)[0], 1.0);
    assert_eq!(cc.data.row(1)[29], 12.5);
}

#[test]
fn bad_rows_are_reported_by_line_and_no_good_row_is_lost() {
    let short = "1,2,3".to_string();
    let not_a_number = row(2.0, "0").replacen("0.10", "abc", 1);
    let bad_class = row(3.0, "2");
    let text = format!(
        "{}\n{}\n{short}\n{}\n{not_a_number}\n{bad_class}\n{}\n",
        header(),
        row(0.0, "0"),
        row(1.0, "1"),
        row(4.0, "0")
    );
    let cc = from_reader(text.as_bytes()).expect("loads");
    assert_eq!(cc.data.len(), 3, "the three good rows are kept");
    assert_eq!(cc.data.y, vec![0.0, 1.0, 0.0]);
    let lines: Vec<u64> = cc.bad_rows.iter().map(|b| b.line).collect();
    assert_eq!(lines, vec![3, 5, 6]);
    assert!(
        cc.bad_rows[0].message.contains("31 fields"),
        "{}",
        cc.bad_rows[0]
    );
    assert!(cc.bad_rows[1].message.contains("V1"), "{}", cc.bad_rows[1]);
    assert!(
        cc.bad_rows[2].message.contains("Class"),
        "{}",
        cc.bad_rows[2]
    );
    assert!(cc.bad_rows[0].to_string().starts_with("line 3:"));
}

#[test]
fn wrong_header_and_missing_file_are_errors() {
    let text = "Time,V1,Amount,Class\n1,2,3,0\n";
    match from_reader(text.as_bytes()) {
        Err(CsvError::Header(m)) => assert!(m.contains("Time, V1..V28, Amount, Class"), "{m}"),
        other => panic!("expected a header error, got {other:?}"),
    }
    match load("/nonexistent/creditcard.csv") {
        Err(e @ CsvError::Io(_)) => assert!(e.to_string().contains("/nonexistent/creditcard.csv")),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}
